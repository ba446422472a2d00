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
  // A request that goes ahead clears the form's earlier errors: a preview answers below the
  // form, and only a new problem with the upload itself redraws the form with its error.
  function clearErrors(form) {
    form.querySelectorAll(".has-error").forEach(function (field) {
      field.classList.remove("has-error");
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    form.querySelectorAll("p.error").forEach(function (error) {
      error.hidden = true;
    });
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    var input = form && form.querySelector("input[type=file][data-max-bytes]");
    if (!input) return;
    var limit = Number(input.dataset.maxBytes);
    if (!input.files || !input.files.length || input.files[0].size <= limit) {
      clearErrors(form);
      return;
    }
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
