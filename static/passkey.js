// Passkeys: sign-in on the sign-in page (a button, and the browser's saved-passkey autofill
// where it offers conditional mediation) and registration on /account. Options and results
// travel as JSON with binary fields in base64url (as webauthn-rs writes and reads them). All
// texts come from data-msg-* attributes of the localized page.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);

  function decode(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function encode(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // POST JSON; resolves with {ok, status, data} (data: the parsed body, or null).
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().then(
        function (data) { return { ok: res.ok, status: res.status, data: data }; },
        function () { return { ok: res.ok, status: res.status, data: null }; }
      );
    });
  }

  function reporter(form, status) {
    return function (key, problem) {
      var text = problem && problem.detail ? problem.detail : form.dataset[key];
      status.textContent = text + (problem && problem.code ? " (" + problem.code + ")" : "");
    };
  }

  // The browser refused or the person cancelled: NotAllowedError covers both.
  function ceremonyFailure(say, error) {
    if (error && error.name === "AbortError") return;
    say(error && error.name === "NotAllowedError" ? "msgCancelled" : "msgFailed");
  }

  // ---- sign-in ----
  function requestOptions(options) {
    var pk = options.publicKey;
    var out = {
      challenge: decode(pk.challenge),
      timeout: pk.timeout,
      rpId: pk.rpId,
      userVerification: pk.userVerification || "required"
    };
    out.allowCredentials = (pk.allowCredentials || []).map(function (c) {
      return { type: c.type, id: decode(c.id) };
    });
    return out;
  }

  function assertionJson(cred) {
    return {
      id: cred.id,
      rawId: encode(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: encode(cred.response.authenticatorData),
        clientDataJSON: encode(cred.response.clientDataJSON),
        signature: encode(cred.response.signature),
        userHandle: encode(cred.response.userHandle)
      },
      extensions: {}
    };
  }

  function setUpSignIn(form) {
    var status = document.getElementById("passkey-status");
    var say = reporter(form, status);
    if (!supported) { status.textContent = form.dataset.msgUnsupported; return; }
    form.hidden = false;
    var pending = null;

    function signIn(conditional) {
      if (pending) pending.abort();
      var controller = new AbortController();
      pending = controller;
      return post("/login/passkey/options").then(function (res) {
        if (!res.ok) { say("msgFailed", res.data); return; }
        var request = { publicKey: requestOptions(res.data), signal: controller.signal };
        if (conditional) request.mediation = "conditional";
        else say("msgWorking");
        return navigator.credentials.get(request).then(function (cred) {
          if (!conditional) say("msgWorking");
          var body = { credential: assertionJson(cred), request: form.dataset.request || null };
          return post("/login/passkey", body).then(function (done) {
            if (done.ok && done.data && done.data.next) window.location.assign(done.data.next);
            else say("msgFailed", done.data);
          });
        }, function (error) { if (controller === pending) ceremonyFailure(say, error); });
      }, function () { say("msgNetwork"); });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      signIn(false);
    });
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (available) signIn(true);
      }, function () {});
    }
  }

  // ---- registration ----
  // A copy without null members (the browser's option dictionaries take absent, not null).
  function withoutNulls(value) {
    if (Array.isArray(value)) return value.map(withoutNulls);
    if (value === null || typeof value !== "object") return value;
    var out = {};
    Object.keys(value).forEach(function (key) {
      if (value[key] !== null) out[key] = withoutNulls(value[key]);
    });
    return out;
  }

  function creationOptions(options) {
    var pk = options.publicKey;
    var out = withoutNulls(pk);
    out.challenge = decode(pk.challenge);
    out.user = { id: decode(pk.user.id), name: pk.user.name, displayName: pk.user.displayName };
    out.excludeCredentials = (pk.excludeCredentials || []).map(function (c) {
      return { type: c.type, id: decode(c.id) };
    });
    return out;
  }

  function registrationJson(cred) {
    var results = cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
    return {
      id: cred.id,
      rawId: encode(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: encode(cred.response.attestationObject),
        clientDataJSON: encode(cred.response.clientDataJSON)
      },
      extensions: results.credProps ? { credProps: results.credProps } : {}
    };
  }

  function setUpRegistration(form) {
    var status = document.getElementById("passkey-status");
    var say = reporter(form, status);
    if (!supported) { status.textContent = form.dataset.msgUnsupported; form.hidden = true; return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.elements.name.value;
      say("msgWorking");
      post("/account/passkeys/options").then(function (res) {
        if (!res.ok) { say("msgFailed", res.data); return; }
        return navigator.credentials.create({ publicKey: creationOptions(res.data) }).then(function (cred) {
          return post("/account/passkeys", { name: name, credential: registrationJson(cred) }).then(function (done) {
            if (done.ok && done.data && done.data.next) window.location.assign(done.data.next);
            else say("msgFailed", done.data);
          });
        }, function (error) { ceremonyFailure(say, error); });
      }, function () { say("msgNetwork"); });
    });
  }

  // ---- staff invitation: the token is the URL's fragment (never sent to the server) ----
  function setUpInvitation(form) {
    var status = document.getElementById("passkey-status");
    var say = reporter(form, status);
    var token = window.location.hash.replace(/^#/, "");
    if (!token) { say("msgNoToken"); return; }
    if (!supported) { say("msgUnsupported"); return; }
    post("/staff/invite/options", { token: token }).then(function (res) {
      if (!res.ok) { say("msgFailed", res.data); return; }
      var invitee = res.data.invitee || {};
      document.getElementById("staff-name").textContent = invitee.name || "";
      document.getElementById("staff-roles").textContent = (invitee.roles || []).join(", ");
      document.getElementById("staff-invitee").hidden = false;
      form.hidden = false;
    }, function () { say("msgNetwork"); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.elements.name.value;
      say("msgWorking");
      post("/staff/invite/options", { token: token }).then(function (res) {
        if (!res.ok) { say("msgFailed", res.data); return; }
        return navigator.credentials.create({ publicKey: creationOptions(res.data) }).then(function (cred) {
          var body = { token: token, name: name, credential: registrationJson(cred) };
          return post("/staff/invite", body).then(function (done) {
            if (done.ok && done.data && done.data.next) window.location.assign(done.data.next);
            else say("msgFailed", done.data);
          });
        }, function (error) { ceremonyFailure(say, error); });
      }, function () { say("msgNetwork"); });
    });
  }

  var login = document.getElementById("passkey-login");
  if (login) setUpSignIn(login);
  var register = document.getElementById("passkey-register");
  if (register) setUpRegistration(register);
  var invitation = document.getElementById("staff-register");
  if (invitation) setUpInvitation(invitation);
})();
