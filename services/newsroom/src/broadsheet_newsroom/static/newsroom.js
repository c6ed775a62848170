// Progressive enhancement only: the sign-in form tells the Newsroom the browser's time zone,
// so Publish at is entered and shown in it (without script, NEWSROOM_TIME_ZONE applies).
document.querySelectorAll("[data-browser-time-zone]").forEach(function (input) {
  try {
    input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    input.value = "";
  }
});
