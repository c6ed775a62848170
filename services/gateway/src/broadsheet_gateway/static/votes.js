// Voting without a reload: the vote form posts as it would without JavaScript, asking for JSON
// ({votes, counted}); the count is updated in place and the reader stays where they were.
// Without JavaScript (or if this fails) the form posts and the page comes back at the comment.
(function () {
  "use strict";
  if (!window.fetch || !window.FormData) { return; }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("vote")) { return; }
    event.preventDefault();
    var button = form.querySelector("button");
    var count = form.querySelector(".vote-count");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (!result.ok) {
          count.textContent = result.body.detail || "Your vote could not be counted.";
          button.disabled = false;
          return;
        }
        var votes = result.body.votes;
        count.setAttribute("data-votes", String(votes));
        count.textContent = votes + (votes === 1 ? " vote" : " votes") +
          (result.body.counted ? "" : " (you have already voted)");
        form.classList.add("voted");
      })
      .catch(function () { form.submit(); });
  });
})();
