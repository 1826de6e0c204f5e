// The Web eID page protocol (docs/bridge.md §1), shared by the pages that use the card bridge:
// posts {action, ...fields} to the page's own window, where the extension's content script
// answers "<action>-ack" at once, then "<action>-success" or "<action>-failure". Resolves with
// the success message; rejects with {code, ...} (ERR_WEBEID_EXTENSION_UNAVAILABLE when nothing
// acknowledges within 2 s, ERR_WEBEID_USER_TIMEOUT after the given time).
(function () {
  "use strict";
  var ACK_TIMEOUT_MS = 2000;
  window.shikakuWebEid = function (action, fields, timeoutMs) {
    return new Promise(function (resolve, reject) {
      var acked = false;
      function onMessage(event) {
        if (event.source !== window || !event.data || typeof event.data.action !== "string") return;
        var reply = event.data.action;
        if (reply === action + "-ack") { acked = true; return; }
        if (reply === action + "-success") { done(); resolve(event.data); }
        if (reply === action + "-failure") { done(); reject(event.data.error || {}); }
      }
      function done() { window.removeEventListener("message", onMessage); clearTimeout(ack); clearTimeout(user); }
      window.addEventListener("message", onMessage);
      var ack = setTimeout(function () {
        if (!acked) { done(); reject({ code: "ERR_WEBEID_EXTENSION_UNAVAILABLE" }); }
      }, ACK_TIMEOUT_MS);
      var user = setTimeout(function () { done(); reject({ code: "ERR_WEBEID_USER_TIMEOUT" }); }, timeoutMs);
      var message = { action: action };
      Object.keys(fields || {}).forEach(function (k) { message[k] = fields[k]; });
      window.postMessage(message, window.location.origin);
    });
  };
})();
