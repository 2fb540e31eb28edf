// The console's only script of its own: it tells the server the browser's time zone, so
// every page is rendered in it (times are stored in UTC). htmx does the rest.
(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  var current = (document.cookie.match(/(?:^|; )cz_tz=([^;]*)/) || [])[1];
  if (decodeURIComponent(current || "") !== zone) {
    document.cookie = "cz_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    // The page was rendered in another zone: show it again once, in the right one.
    if (document.body && document.body.dataset.tz !== zone && !sessionStorage.getItem("czTzShown")) {
      sessionStorage.setItem("czTzShown", "1");
      if (document.querySelector("header.top")) location.reload();
    }
  }
})();
