// A timezone field marked data-browser-timezone starts at the browser's own zone (the server
// cannot know it): a household in Berlin should not begin in UTC. Only a zone the field's list
// offers is put in, and never over a value the person typed.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (error) {
      return;
    }
    if (!zone) return;
    document.querySelectorAll("input[data-browser-timezone]").forEach(function (input) {
      if (input.value && input.value !== input.defaultValue) return;
      var list = input.list;
      var known = !list || Array.prototype.some.call(list.options, function (option) {
        return option.value === zone;
      });
      if (known) input.value = zone;
    });
  });
})();
