// Import page: show the upload's progress while htmx sends a large file (no inline scripts).
(function () {
  "use strict";
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    var bar = form && form.querySelector(".upload-progress");
    if (!bar || !event.detail.lengthComputable) return;
    var percent = Math.round((event.detail.loaded / event.detail.total) * 100);
    bar.hidden = false;
    bar.value = percent;
    var text = form.querySelector(".busy-text");
    if (text) text.textContent = percent < 100 ? "Uploading… " + percent + "%" : "Reading the file…";
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    var bar = form && form.querySelector(".upload-progress");
    if (bar) { bar.hidden = true; bar.value = 0; }
  });
})();
