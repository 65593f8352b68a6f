// Bring the quoted sentence (the <mark> the server put in the cited paragraph), or else the paragraph the URL
// fragment names, to the middle of the screen, clear of the sticky title.
(function () {
  "use strict";
  function reveal() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id && document.getElementById(id);
    var quote = document.querySelector("mark.quote");
    if (quote && (!target || target.contains(quote))) target = quote;
    if (target) target.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", reveal);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", reveal);
  else reveal();
})();
