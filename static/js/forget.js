// After signing out: forget the Record screen's copy of the account's meters, last readings
// and results on this device, so the next person to open it offline does not see them.
// Readings still waiting to be sent stay in the outbox: they are kept for their author and
// sent when that person signs in again.
(function () {
  "use strict";
  if (!window.idbKeyval || !window.indexedDB) return;
  var data = idbKeyval.createStore("homelog-record", "data");
  idbKeyval.delMany(["sources", "latest", "cursor", "user", "results", "session"], data).catch(
    function () {} // nothing stored here, or storage refused: nothing to forget
  );
})();
