// Live comments: newly approved comments arrive over Server-Sent Events and are inserted into
// the thread; edits replace a comment's text, removals take it (and its replies) out. A page
// that reconnects gets what it missed (EventSource sends Last-Event-ID), or is told to reload
// when the gateway no longer keeps that much. Without JavaScript the page is complete anyway;
// this only saves a reload.
(function () {
  "use strict";
  var story = document.querySelector("[data-live-url]");
  var list = document.getElementById("comment-list");
  if (!story || !list || !window.EventSource) { return; }
  var status = document.querySelector(".live-status");
  var count = document.querySelector(".comment-count");
  function setCount(delta) {
    if (!count) { return; }
    var n = Math.max(0, parseInt(count.getAttribute("data-count") || "0", 10) + delta);
    count.setAttribute("data-count", String(n));
    count.textContent = (n === 0 ? "No" : n) + (n === 1 ? " Comment" : " Comments") + " on this post";
  }
  var source = new EventSource(story.getAttribute("data-live-url"));
  source.addEventListener("comment", function (message) {
    var data = JSON.parse(message.data);
    if (document.getElementById("comment-" + data.id)) { return; }
    var template = document.createElement("template");
    template.innerHTML = data.html.trim();
    var item = template.content.firstElementChild;
    if (!item) { return; }
    var parent = data.parent_id && document.getElementById("comment-" + data.parent_id);
    if (parent) {
      var children = parent.querySelector(":scope > ol.children");
      if (!children) {
        children = document.createElement("ol");
        children.className = "children";
        parent.appendChild(children);
      }
      children.appendChild(item);
    } else {
      list.appendChild(item);
    }
    setCount(1);
    if (status) { status.textContent = "New comment from " + item.querySelector(".author").textContent; }
  });
  source.addEventListener("edit", function (message) {
    var data = JSON.parse(message.data);
    var item = document.getElementById("comment-" + data.id);
    var body = item && item.querySelector(":scope > article .comment-body");
    if (!body) { return; }
    body.innerHTML = data.body_html;  // cleaned by the gateway, as on the page
    var meta = item.querySelector(":scope > article .comment-meta");
    if (meta && !meta.querySelector(".edited")) {
      var edited = document.createElement("span");
      edited.className = "edited";
      edited.textContent = "(edited)";
      meta.appendChild(edited);
    }
    if (status) { status.textContent = "A comment was edited."; }
  });
  source.addEventListener("remove", function (message) {
    var item = document.getElementById("comment-" + JSON.parse(message.data).id);
    if (!item) { return; }
    setCount(-1 - item.querySelectorAll("li.comment").length);
    item.remove();
    if (status) { status.textContent = "A comment was removed."; }
  });
  source.addEventListener("reload", function () {
    source.close();
    story.setAttribute("data-live", "stale");
    if (status) { status.textContent = "Comments changed while this page was away: reload it to see them."; }
  });
  source.addEventListener("ready", function () { story.setAttribute("data-live", "on"); });
})();
