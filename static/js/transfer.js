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
  // A file over the size limit is refused here, before minutes of uploading it for nothing.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    var input = form && form.querySelector("input[type=file][data-max-bytes]");
    if (!input || !input.files || !input.files.length) return;
    var limit = Number(input.dataset.maxBytes);
    if (input.files[0].size <= limit) return;
    event.preventDefault();
    var error = form.querySelector("#file-error");
    error.textContent = "The file is larger than " + Math.floor(limit / 1048576) + " MB.";
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "file-error");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    var bar = form && form.querySelector(".upload-progress");
    if (bar) { bar.hidden = true; bar.value = 0; }
  });
})();
