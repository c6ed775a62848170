// Live comments: newly approved comments arrive over Server-Sent Events and are inserted into
// the thread. Without JavaScript the page is complete anyway; this only saves a reload.
(function () {
  "use strict";
  var story = document.querySelector("[data-live-url]");
  var list = document.getElementById("comment-list");
  if (!story || !list || !window.EventSource) { return; }
  var status = document.querySelector(".live-status");
  var count = document.querySelector(".comment-count");
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
    if (count) {
      var n = parseInt(count.getAttribute("data-count") || "0", 10) + 1;
      count.setAttribute("data-count", String(n));
      count.textContent = n + (n === 1 ? " Comment" : " Comments") + " on this post";
    }
    if (status) { status.textContent = "New comment from " + item.querySelector(".author").textContent; }
  });
  source.addEventListener("ready", function () { story.setAttribute("data-live", "on"); });
})();
