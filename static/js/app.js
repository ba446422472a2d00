// Small behaviours on top of htmx. No inline scripts: the CSP allows only same-origin files.
(function () {
  "use strict";
  // Texts come translated in the page's #i18n block (base.html); {name} is filled from vars.
  var texts = {};
  try {
    texts = JSON.parse(document.getElementById("i18n").textContent);
  } catch (error) {
    // no block: the English texts below
  }
  function t(text, vars) {
    var found = texts[text] || text;
    Object.keys(vars || {}).forEach(function (name) {
      found = found.split("{" + name + "}").join(String(vars[name]));
    });
    return found;
  }
  // Messages stay until the person acts: a click, a submit or a key starts a request, and the
  // old messages make way for its own. Requests nobody asked for (a panel that loads itself
  // after the page opens, one that reloads when readings change) leave them alone.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var detail = event.detail || {};
    var elt = detail.elt;
    if (elt && elt.closest && elt.closest("[data-keep-flashes]")) return;
    var cause = detail.requestConfig && detail.requestConfig.triggeringEvent;
    if (!cause || !cause.isTrusted) return;
    var flashes = document.getElementById("flashes");
    if (flashes) flashes.querySelectorAll(".flash").forEach(function (f) { f.remove(); });
  });
  // Good news fades after a while; errors and warnings stay until the next action. Any
  // message goes at once when clicked (it says so to screen readers through its button).
  var FADE_AFTER_MS = 12000;
  function dismiss(flash) {
    flash.classList.add("fading");
    setTimeout(function () { flash.remove(); }, 400);
  }
  function prepare(root) {
    (root || document).querySelectorAll("#flashes .flash:not([data-ready])").forEach(function (flash) {
      flash.setAttribute("data-ready", "");
      var close = document.createElement("button");
      close.type = "button";
      close.className = "flash-close";
      close.setAttribute("aria-label", t("Dismiss this message"));
      close.textContent = "×";
      close.addEventListener("click", function () { dismiss(flash); });
      flash.appendChild(close);
      if (flash.classList.contains("flash-error") || flash.classList.contains("flash-warning")) return;
      var timer = setTimeout(function () { dismiss(flash); }, FADE_AFTER_MS);
      // Someone reading it (pointer on it, or focus in it) keeps it until they move on.
      function hold() { clearTimeout(timer); }
      function release() { clearTimeout(timer); timer = setTimeout(function () { dismiss(flash); }, FADE_AFTER_MS / 2); }
      flash.addEventListener("mouseenter", hold);
      flash.addEventListener("mouseleave", release);
      flash.addEventListener("focusin", hold);
      flash.addEventListener("focusout", release);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { prepare(); });
  document.addEventListener("htmx:afterSettle", function () { prepare(); });
  document.addEventListener("htmx:oobAfterSwap", function () { prepare(); });
  // Menus are <details> and work without this; with it, a tap elsewhere or Escape closes them.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open], details.nav-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open], details.nav-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary && menu.contains(document.activeElement)) summary.focus();
    });
  });
  // A failed request (network or server error) must never be silent.
  function announce(message) {
    var flashes = document.getElementById("flashes");
    if (!flashes) return;
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.textContent = message;
    flashes.appendChild(p);
    prepare();
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 422) return;
    var text = xhr
      ? t("That did not work ({status}).", { status: xhr.status })
      : t("That did not work.");
    if (xhr && xhr.responseText && xhr.responseText.length < 400 && xhr.getResponseHeader("Content-Type") && xhr.getResponseHeader("Content-Type").indexOf("text/html") === 0) {
      var tmp = document.createElement("div");
      tmp.innerHTML = xhr.responseText;
      text = tmp.textContent.trim() || text;
    }
    announce(text);
  });
  document.addEventListener("htmx:sendError", function () {
    announce(t("Could not reach homelog. Check your connection and try again."));
  });
})();
