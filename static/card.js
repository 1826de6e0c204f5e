// Card page library (the idp's sign-in, the portal's in-person check): asks the card bridge
// extension (Web eID message protocol) to sign the server's challenge (fetched from the form's
// data-challenge, by default /login/card/challenge), then posts the token: as JSON to
// /login/card, or, with data-post="form", in the form's hidden fields auth_token and nonce by
// submitting the form itself. The PIN never reaches this page: the bridge asks for it. All
// texts come from data-msg-* attributes of the localized page.
(function () {
  "use strict";
  var form = document.getElementById("card-login");
  var status = document.getElementById("card-status");
  if (!form || !status) return;
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var USER_TIMEOUT_MS = 120000;

  var help = document.getElementById("card-help");

  function say(key, detail) {
    status.textContent = form.dataset[key] + (detail ? " (" + detail + ")" : "");
    if (help) help.hidden = true;
  }

  // Bridge error codes (docs/bridge.md §3) → page texts.
  var FAILURES = {
    ERR_WEBEID_EXTENSION_UNAVAILABLE: "msgNoExtension",
    ERR_WEBEID_NATIVE_UNAVAILABLE: "msgNativeUnavailable",
    ERR_WEBEID_MODULE_NOT_FOUND: "msgModuleNotFound",
    ERR_WEBEID_NO_READERS: "msgNoReader",
    ERR_WEBEID_NO_CARD: "msgNoCard",
    ERR_WEBEID_UNKNOWN_CARD: "msgUnknownCard",
    ERR_WEBEID_PIN_INVALID: "msgWrongPin",
    ERR_WEBEID_PIN_BLOCKED: "msgPinBlocked",
    ERR_WEBEID_USER_CANCELLED: "msgCancelled",
    ERR_WEBEID_USER_TIMEOUT: "msgTimeout",
    ERR_WEBEID_ACTION_TIMEOUT: "msgTimeout"
  };

  // A bridge failure: its text, the PIN tries the card reported, and the link to /bridge.
  function sayFailure(error) {
    var code = error && typeof error.code === "string" ? error.code : "";
    var text = form.dataset[FAILURES[code] || "msgFailed"];
    if (code === "ERR_WEBEID_PIN_INVALID") {
      if (typeof error.pinTriesLeft === "number") text += " " + form.dataset.msgTriesLeft + ": " + error.pinTriesLeft;
      else if (error.pinCountLow) text += " " + form.dataset.msgTriesLow;
    }
    status.textContent = text + (code ? " (" + code + ")" : "");
    if (help) help.hidden = false;
  }

  function authenticate(nonce) {
    return window.shikakuWebEid("web-eid:authenticate", {
      challengeNonce: nonce,
      options: { lang: document.documentElement.lang, userInteractionTimeout: USER_TIMEOUT_MS }
    }, USER_TIMEOUT_MS);
  }

  async function signIn() {
    say("msgWorking");
    var challenge;
    try {
      var res = await fetch(form.dataset.challenge || "/login/card/challenge", { credentials: "same-origin", cache: "no-store" });
      challenge = await res.json();
    } catch (e) { say("msgNetwork"); return; }
    var token;
    try {
      var reply = await authenticate(challenge.nonce);
      token = {
        format: reply.format, unverifiedCertificate: reply.unverifiedCertificate,
        algorithm: reply.algorithm, signature: reply.signature, appVersion: reply.appVersion
      };
    } catch (err) {
      sayFailure(err);
      return;
    }
    if (form.dataset.post === "form") {
      form.elements.auth_token.value = JSON.stringify(token);
      form.elements.nonce.value = challenge.nonce;
      form.submit();
      return;
    }
    try {
      var post = await fetch("/login/card", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
        body: JSON.stringify({ auth_token: token, request: form.dataset.request || null })
      });
      var body = await post.json();
      if (post.ok && body.next) { window.location.assign(body.next); return; }
      status.textContent = (body.detail || form.dataset.msgFailed) + (body.code ? " (" + body.code + ")" : "");
    } catch (e) { say("msgNetwork"); }
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); signIn(); });
})();
