// Sources pages: small behaviours on top of htmx (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    // "Remove" on a metric row: without JavaScript it posts and the server redraws the form;
    // with it, the row simply goes (the last row is emptied instead, a source needs one).
    var remove = event.target.closest("[data-remove-metric]");
    if (remove) {
      event.preventDefault();
      var row = remove.closest(".metric-row");
      var rows = row && row.parentNode ? row.parentNode.querySelectorAll(".metric-row") : [];
      if (rows.length > 1) {
        var next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        var input = next && next.querySelector("input[type=text], input:not([type])");
        if (input) input.focus();
      } else if (row) {
        row.querySelectorAll("input").forEach(function (input) {
          if (input.type !== "hidden") input.value = "";
        });
      }
      return;
    }
    // "Cancel" on an inline form: drop it instead of following the link.
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var target = document.querySelector(dismiss.getAttribute("data-dismiss"));
      if (target) {
        event.preventDefault();
        target.remove();
      }
    }
  });
  // A new metric row arrived: put the cursor in its name.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "metric-rows") {
      var rows = target.querySelectorAll(".metric-row");
      var last = rows[rows.length - 1];
      var input = last && last.querySelector("input");
      if (input) input.focus();
    }
  });
})();
