// Import page: show the upload's progress while htmx sends a large file (no inline scripts).
(function () {
  "use strict";
  // "42%" or "42 %", as the page's language writes a percentage.
  function share(percent) {
    try {
      return new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "percent" })
        .format(percent / 100);
    } catch (error) {
      return percent + "%";
    }
  }
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    var bar = form && form.querySelector(".upload-progress");
    if (!bar || !event.detail.lengthComputable) return;
    var percent = Math.round((event.detail.loaded / event.detail.total) * 100);
    bar.hidden = false;
    bar.value = percent;
    var text = form.querySelector(".busy-text");
    if (!text) return;
    // The texts come translated from the page: data-uploading, and the text it starts with.
    if (!text.dataset.reading) text.dataset.reading = text.textContent;
    text.textContent = percent < 100
      ? (text.dataset.uploading || "Uploading… {percent}").split("{percent}").join(share(percent))
      : text.dataset.reading;
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
    error.textContent = input.dataset.tooLarge;
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
