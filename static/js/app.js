// Small behaviours on top of htmx. No inline scripts: the CSP allows only same-origin files.
(function () {
  "use strict";
  // Fragments may carry flash messages out of band; clear old ones before a new request.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.closest && elt.closest("[data-keep-flashes]")) return;
    var flashes = document.getElementById("flashes");
    if (flashes) flashes.querySelectorAll(".flash").forEach(function (f) { f.remove(); });
  });
  // A failed request (network or server error) must never be silent.
  function announce(message) {
    var flashes = document.getElementById("flashes");
    if (!flashes) return;
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.textContent = message;
    flashes.appendChild(p);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 422) return;
    var text = "That did not work (" + (xhr ? xhr.status : "error") + ").";
    if (xhr && xhr.responseText && xhr.responseText.length < 400 && xhr.getResponseHeader("Content-Type") && xhr.getResponseHeader("Content-Type").indexOf("text/html") === 0) {
      var tmp = document.createElement("div");
      tmp.innerHTML = xhr.responseText;
      text = tmp.textContent.trim() || text;
    }
    announce(text);
  });
  document.addEventListener("htmx:sendError", function () {
    announce("Could not reach homelog. Check your connection and try again.");
  });
})();
