// Old WordPress links (/2019/01/02/slug/#comment-123) keep their fragment across the 301 to the
// article. The page gives each imported comment it shows that anchor, but a comment on a later
// page of the thread is not here: ask the comments service for its id and the page that holds
// it, and go there. Without JavaScript the reader simply lands on the article.
(function () {
  "use strict";
  // WordPress ids are numbers (up to 2^53); Broadsheet's own anchors are 24 hex digits.
  var match = /^#comment-(\d{1,16})$/.exec(window.location.hash);
  var comments = document.querySelector("[data-article-path]");
  if (!match || !comments || !window.fetch || document.getElementById("comment-" + match[1])) {
    return;
  }
  var path = comments.getAttribute("data-article-path");
  fetch("/api" + path + "/comments/wordpress/" + match[1], { headers: { Accept: "application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (found) {
      if (!found || typeof found.id !== "string") { return; }
      var query = found.cpage ? "?cpage=" + encodeURIComponent(found.cpage) : "";
      // replace: the old link's page without the comment is not worth a Back step.
      window.location.replace(path + query + "#comment-" + encodeURIComponent(found.id));
    })
    .catch(function () { /* unknown or unreachable: the reader stays on the article */ });
})();
