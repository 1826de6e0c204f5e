// The venue kiosk (portal /organizer/events/{id}/kiosk): watches the card reader through the
// card bridge, reads the authentication certificate of each card held to it (no PIN), and
// records the tap. Each tap gets its id and time here and is kept in IndexedDB until the server
// has answered it, so taps made while the network or the server is down are sent when it is
// back (the server accepts each id once). All texts come from data-msg-* attributes.
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) return;
  var msg = root.dataset;
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var panel = document.getElementById("kiosk-panel");
  var nameLine = document.getElementById("kiosk-name");
  var messageLine = document.getElementById("kiosk-message");
  var queueLine = document.getElementById("kiosk-queue");
  var POLL_MS = 500;
  var SYNC_MS = 3000;
  var BRIDGE_TIMEOUT_MS = 15000;
  var audio = null;
  var cardPresent = false;
  var HOLD_RESULT_MS = 4000;
  var resultAt = 0;

  // The bridge's error codes (docs/bridge.md §3) and the server's refusals → texts.
  var BRIDGE_TEXTS = {
    ERR_WEBEID_EXTENSION_UNAVAILABLE: "msgNoBridge", ERR_WEBEID_NATIVE_UNAVAILABLE: "msgNoBridge",
    ERR_WEBEID_MODULE_NOT_FOUND: "msgNoBridge", ERR_WEBEID_NO_READERS: "msgNoReader",
    ERR_WEBEID_ORIGIN_NOT_ALLOWED: "msgNotAllowed", ERR_WEBEID_UNKNOWN_CARD: "msgUnknownCard"
  };
  var REFUSAL_TEXTS = { cert_revoked: "msgRevoked", cert_expired: "msgExpired", cert_untrusted: "msgUntrusted" };

  // Shows a result; `outcome` (the server's, a refusal's code or "queued") is also left in
  // data-last, and data-shown counts results, for whoever watches the page (tests, a display).
  function result(kind, name, text, outcome) {
    show(kind, name, text);
    resultAt = Date.now();
    root.dataset.last = outcome;
    root.dataset.shown = String(Number(root.dataset.shown || 0) + 1);
  }

  function show(kind, name, text) {
    panel.hidden = false;
    panel.className = "kiosk-panel" + (kind ? " " + kind : "");
    nameLine.textContent = name || "";
    messageLine.textContent = text;
  }

  function beep(ok) {
    if (!audio) return;
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.frequency.value = ok ? 880 : 220;
    gain.gain.value = 0.2;
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + (ok ? 0.15 : 0.6));
  }

  function clock(unix) {
    return new Date(unix * 1000).toLocaleTimeString(document.documentElement.lang, {
      hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo"
    });
  }

  // The queue: IndexedDB store "taps", keyed by the tap id.
  var dbPromise = new Promise(function (resolve, reject) {
    var open = indexedDB.open("shikaku-kiosk", 1);
    open.onupgradeneeded = function () { open.result.createObjectStore("taps", { keyPath: "id" }); };
    open.onsuccess = function () { resolve(open.result); };
    open.onerror = function () { reject(open.error); };
  });
  function store(mode, work) {
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction("taps", mode);
        var result = work(tx.objectStore("taps"));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function queued() {
    return store("readonly", function (s) { return s.getAll(); }).then(function (all) {
      return all.filter(function (t) { return t.url === msg.taps; })
        .sort(function (a, b) { return a.at - b.at; });
    });
  }
  function showQueue() {
    return queued().then(function (all) {
      queueLine.hidden = all.length === 0;
      queueLine.textContent = msg.msgWaiting.replace("{count}", all.length);
      root.dataset.waiting = String(all.length);
    });
  }

  // Sends one tap. Resolves with the server's answer, or null when it must be sent again later.
  async function send(tap) {
    var res;
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, 10000);
    try {
      res = await fetch(tap.url, {
        signal: abort.signal,
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRF-Token": csrf ? csrf.content : "" },
        body: JSON.stringify({ id: tap.id, at: tap.at, certificate: tap.certificate })
      });
    } catch (e) { return null; } finally { clearTimeout(timer); }
    var body = {};
    try { body = await res.json(); } catch (e) { body = {}; }
    if (res.ok) return { ok: true, body: body };
    if (res.status === 401 || res.status >= 500) return { ok: false, retry: true, status: res.status, body: body };
    return { ok: false, retry: false, status: res.status, body: body };
  }

  function showAnswer(answer) {
    if (answer.ok) {
      var b = answer.body;
      var text = b.outcome === "check_out" ? msg.msgCheckOut.replace("{time}", clock(b.checked_out_at || b.tapped_at))
        : b.outcome === "repeat" ? msg.msgRepeat
        : msg.msgCheckIn.replace("{time}", clock(b.checked_in_at));
      if (!b.linked) text = msg.msgUnlinked;
      result(b.linked ? "ok" : "pending", b.name, text, b.linked ? b.outcome : "unlinked");
      beep(true);
      return;
    }
    if (answer.status === 401) { result("refused", "", msg.msgSignedOut, "not_signed_in"); beep(false); return; }
    var code = answer.body && answer.body.code ? answer.body.code : "";
    result("refused", "", msg[REFUSAL_TEXTS[code] || "msgRefused"] + (code ? " (" + code + ")" : ""), code || "refused");
    beep(false);
  }

  // A tap that waited in the queue and was then refused (a revoked card read while the server was
  // down): the doctor has gone, so the organizer sees it in a list under the panel.
  var lateList = document.getElementById("kiosk-late");
  var lateItems = document.getElementById("kiosk-late-items");
  function noteLateRefusal(tap, answer) {
    var code = answer.body && answer.body.code ? answer.body.code : "refused";
    var li = document.createElement("li");
    li.textContent = clock(Math.floor(tap.at / 1000)) + " " + msg[REFUSAL_TEXTS[code] || "msgRefused"] + " (" + code + ")";
    lateItems.appendChild(li);
    lateList.hidden = false;
    root.dataset.lateRefused = String(lateItems.children.length);
  }

  // Sending runs in one lane: a tap waits for a sync in progress (and the other way round), so
  // the same tap is never sent twice at once and the server sees taps in the order made.
  var lane = Promise.resolve();
  function inLane(work) {
    var run = lane.then(work);
    lane = run.catch(function () {});
    return run;
  }

  // Sends what is queued, oldest first, and stops at the first tap that must wait. The answer
  // to tap `focus` (the one just made) is shown; if it must wait, that is shown instead.
  function drain(focus) {
    return inLane(async function () {
      var all = await queued();
      var shown = false;
      for (var i = 0; i < all.length; i++) {
        var answer = await send(all[i]);
        if (!answer || answer.retry) {
          if (answer && answer.status === 401) { showAnswer(answer); shown = true; }
          break;
        }
        await store("readwrite", function (s) { s.delete(all[i].id); });
        if (all[i].id === focus) { showAnswer(answer); shown = true; }
        else if (!answer.ok) noteLateRefusal(all[i], answer);
      }
      if (focus && !shown) { result("pending", "", msg.msgQueued, "queued"); beep(true); }
      await showQueue();
    });
  }
  function sync() { return drain(null); }

  async function tapped(certificate) {
    var id = window.crypto.randomUUID ? window.crypto.randomUUID()
      : Array.from(window.crypto.getRandomValues(new Uint8Array(16)), function (b) { return (b + 256).toString(16).slice(1); }).join("");
    var tap = { id: id, at: Date.now(), certificate: certificate, url: msg.taps };
    await store("readwrite", function (s) { s.put(tap); });
    await showQueue();
    await drain(tap.id);
  }

  async function poll() {
    try {
      var status = await window.shikakuWebEid("web-eid:status", {}, BRIDGE_TIMEOUT_MS);
      root.dataset.card = status.card;
      if (status.card !== "present") {
        cardPresent = false;
        if (status.card === "no_reader") show("refused", "", msg.msgNoReader);
        else if (Date.now() - resultAt > HOLD_RESULT_MS && messageLine.textContent !== msg.msgHold) show("", "", msg.msgHold);
        return;
      }
      if (cardPresent) return;
      cardPresent = true;
      show("", "", msg.msgReading);
      var reply = await window.shikakuWebEid("web-eid:get-certificate", {}, BRIDGE_TIMEOUT_MS);
      await tapped(reply.certificate);
    } catch (error) {
      var code = error && error.code ? error.code : "";
      if (code !== "ERR_WEBEID_NO_CARD") {
        result("refused", "", (msg[BRIDGE_TEXTS[code]] || msg.msgRefused) + (code ? " (" + code + ")" : ""), code || "refused");
        beep(false);
      }
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  document.getElementById("kiosk-start").addEventListener("submit", function (event) {
    event.preventDefault();
    var Audio = window.AudioContext || window.webkitAudioContext;
    if (Audio) audio = new Audio();
    if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(function () {});
    event.target.hidden = true;
    show("", "", msg.msgHold);
    root.dataset.started = "1";
    poll();
    setInterval(sync, SYNC_MS);
    window.addEventListener("online", sync);
    sync();
  });
  showQueue();
  // The kiosk page opens again without the network (static/kiosk-sw.js).
  if ("serviceWorker" in navigator) {
    // Once the worker controls this page, fetching the page again through it keeps a copy.
    var prime = function () {
      return fetch(window.location.pathname, { credentials: "same-origin" })
        .then(function () { root.dataset.offlineReady = "1"; });
    };
    navigator.serviceWorker.register("/static/kiosk-sw.js", { scope: "/organizer/events/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function () {
        if (navigator.serviceWorker.controller) return prime();
        return new Promise(function (resolve) {
          navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true });
        }).then(prime);
      })
      .catch(function () {});
  }
})();
