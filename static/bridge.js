// Card bridge check page: asks the extension for `web-eid:status` and shows what is there
// (extension and host versions, the card's state) and which installation step is missing.
// All texts come from data-msg-* attributes of the localized page.
(function () {
  "use strict";
  var table = document.getElementById("bridge-state");
  if (!table) return;
  var msg = table.dataset;
  var ACK_TIMEOUT_MS = 2000;
  var REPLY_TIMEOUT_MS = 15000;
  var CARD_TEXTS = {
    present: "msgCardPresent", no_card: "msgCardNoCard", no_reader: "msgCardNoReader",
    unknown_card: "msgCardUnknownCard", module_not_found: "msgCardModuleNotFound"
  };
  function cell(id, text, ok) {
    var td = document.getElementById(id);
    td.textContent = text;
    td.className = ok === true ? "ok" : ok === false ? "missing" : "";
  }
  var firefox = /Firefox\//.test(navigator.userAgent);
  Array.prototype.forEach.call(document.querySelectorAll("[data-browser]"), function (li) {
    var mine = (li.dataset.browser === "firefox") === firefox;
    li.hidden = !mine;
  });

  function show(reply) {
    var verdict = document.getElementById("bridge-verdict");
    if (!reply) {
      cell("bridge-extension", msg.msgNotFound, false);
      cell("bridge-host", msg.msgNotChecked);
      cell("bridge-card", msg.msgNotChecked);
      document.getElementById("step-extension").classList.add("todo");
      verdict.textContent = "";
      return;
    }
    cell("bridge-extension", msg.msgFound + (reply.extension ? " (" + reply.extension + ")" : ""), true);
    if (reply.error || !reply.nativeApp) {
      var code = reply.error && reply.error.code ? reply.error.code : "";
      cell("bridge-host", msg.msgNotFound + (code ? " (" + code + ")" : ""), false);
      cell("bridge-card", msg.msgNotChecked);
      document.getElementById("step-host").classList.add("todo");
      return;
    }
    cell("bridge-host", msg.msgFound + " (" + reply.nativeApp + ")", true);
    var key = CARD_TEXTS[reply.card];
    cell("bridge-card", key ? msg[key] : String(reply.card), reply.card === "present");
    verdict.textContent = reply.card === "present" ? verdict.dataset.ok : "";
  }

  cell("bridge-extension", msg.msgChecking);
  var acked = false;
  var finished = false;
  function finish(reply) {
    if (finished) return;
    finished = true;
    window.removeEventListener("message", onMessage);
    show(reply);
  }
  function onMessage(event) {
    if (event.source !== window || !event.data || typeof event.data.action !== "string") return;
    if (event.data.action === "web-eid:status-ack") { acked = true; return; }
    if (event.data.action === "web-eid:status-success" || event.data.action === "web-eid:status-failure") finish(event.data);
  }
  window.addEventListener("message", onMessage);
  setTimeout(function () { if (!acked) finish(null); }, ACK_TIMEOUT_MS);
  setTimeout(function () { finish({ error: { code: "ERR_WEBEID_USER_TIMEOUT" } }); }, REPLY_TIMEOUT_MS);
  window.postMessage({ action: "web-eid:status" }, window.location.origin);
})();
