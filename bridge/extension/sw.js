// Service worker: the only part of the extension that talks to the native host. The origin
// it sends is the one the browser reports for the sending tab (never a page field); the PIN
// comes from the extension's own prompt window, which the page cannot read.
"use strict";
const api = globalThis.browser ?? globalThis.chrome;
const HOST = "jp.shikaku.bridge";
const VERSION = api.runtime.getManifest().version;
const PROMPT = api.runtime.getURL("prompt.html");
const DEFAULT_TIMEOUT_MS = 120000;
const MAX_TIMEOUT_MS = 600000;

/** Errors the extension itself reports (the host reports the card's). */
function failure(code, message) {
  return { error: { code, message } };
}

/** One connection to the host: `ask(request)` sends one message and waits for its answer. */
function connect() {
  const port = api.runtime.connectNative(HOST);
  let waiting = null;
  let closed = null;
  port.onMessage.addListener((message) => {
    const w = waiting; waiting = null;
    if (w) w.resolve(message);
  });
  port.onDisconnect.addListener(() => {
    const reason = (api.runtime.lastError && api.runtime.lastError.message) || "the host closed the connection";
    closed = reason;
    const w = waiting; waiting = null;
    if (w) w.resolve(hostGone(reason));
  });
  return {
    ask(request) {
      if (closed) return Promise.resolve(hostGone(closed));
      return new Promise((resolve) => { waiting = { resolve }; port.postMessage(request); });
    },
    close() { try { port.disconnect(); } catch (_) { /* already closed */ } }
  };
}

function hostGone(reason) {
  // Chromium: "Specified native messaging host not found." / "Access to the specified native
  // messaging host is forbidden." Firefox: "No such native application …".
  if (/not found|forbidden|no such native application/i.test(reason)) {
    return failure("ERR_WEBEID_NATIVE_UNAVAILABLE", reason);
  }
  return failure("ERR_WEBEID_NATIVE_FATAL", reason);
}

// Prompts waiting for the person: id → {info, resolve, windowId, timer}.
const prompts = new Map();
let nextPrompt = 1;

/** Opens the PIN window and resolves with {pin} / {protectedAuthPath: true} / an error. */
function askForPin(info, timeoutMs) {
  const id = String(nextPrompt++);
  return new Promise((resolve) => {
    const entry = { info, windowId: null, timer: null, done: false };
    entry.finish = (answer) => {
      if (entry.done) return;
      entry.done = true;
      clearTimeout(entry.timer);
      prompts.delete(id);
      if (entry.windowId !== null) api.windows.remove(entry.windowId).catch(() => {});
      resolve(answer);
    };
    prompts.set(id, entry);
    entry.timer = setTimeout(() => entry.finish(failure("ERR_WEBEID_USER_TIMEOUT", "no answer in the PIN window")), timeoutMs);
    api.windows.create({ url: PROMPT + "#" + id, type: "popup", width: 460, height: 420, focused: true }).then(
      (win) => {
        entry.windowId = win.id;
        if (entry.done) api.windows.remove(win.id).catch(() => {});
      },
      (error) => entry.finish(failure("ERR_WEBEID_NATIVE_FATAL", "cannot open the PIN window: " + error))
    );
  });
}

api.windows.onRemoved.addListener((windowId) => {
  for (const entry of prompts.values()) {
    if (entry.windowId === windowId) entry.finish(failure("ERR_WEBEID_USER_CANCELLED", "the PIN window was closed"));
  }
});

/** The true origin of a content-script sender in a top frame, or null. */
function senderOrigin(sender) {
  if (!sender.tab || sender.frameId !== 0) return null;
  if (sender.origin && sender.origin !== "null") return sender.origin;
  try { return new URL(sender.url).origin; } catch (_) { return null; }
}

function fromPrompt(sender) {
  return sender.id === api.runtime.id && typeof sender.url === "string" && sender.url.startsWith(PROMPT);
}

async function handle(msg, origin) {
  const timeout = Math.min(Math.max(Number(msg.timeout) || DEFAULT_TIMEOUT_MS, 1000), MAX_TIMEOUT_MS);
  const host = connect();
  try {
    switch (msg.command) {
      case "status": {
        const answer = await host.ask({ command: "status", origin });
        if (answer.error) return { extension: VERSION, error: answer.error };
        return { extension: VERSION, nativeApp: answer.version || null, card: answer.card || null };
      }
      case "get-certificate":
      case "get-signing-certificate":
        return await host.ask({ command: msg.command, origin });
      case "authenticate":
      case "sign": {
        const key = msg.command === "authenticate" ? "authentication" : "signature";
        const info = await host.ask({ command: "pin-info", origin, key });
        if (info.error) return info;
        const answer = await askForPin(Object.assign({}, info, { origin, purpose: msg.command, lang: msg.lang }), timeout);
        if (answer.error) return answer;
        const request = msg.command === "authenticate"
          ? { command: "authenticate", origin, nonce: String(msg.nonce ?? "") }
          : { command: "sign", origin, hash: String(msg.hash ?? ""), hashFunction: String(msg.hashFunction ?? "") };
        if (typeof answer.pin === "string") request.pin = answer.pin;
        return await host.ask(request);
      }
      default:
        return failure("ERR_WEBEID_INVALID_ARGUMENT", "unknown command");
    }
  } finally {
    host.close();
  }
}

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (!msg || typeof msg !== "object") return false;
  if (msg.kind === "web-eid") {
    const origin = senderOrigin(sender);
    if (!origin) { sendResponse(failure("ERR_WEBEID_INVALID_ARGUMENT", "not a top-level page")); return false; }
    handle(msg, origin).then(sendResponse, (e) => sendResponse(failure("ERR_WEBEID_NATIVE_FATAL", String(e))));
    return true;
  }
  if (!fromPrompt(sender)) return false;
  const entry = prompts.get(String(msg.id));
  if (!entry) { sendResponse(null); return false; }
  if (msg.kind === "prompt-info") {
    sendResponse(entry.info);
  } else if (msg.kind === "prompt-answer") {
    if (msg.cancel) entry.finish(failure("ERR_WEBEID_USER_CANCELLED", "cancelled in the PIN window"));
    else if (entry.info.protectedAuthPath) entry.finish({ protectedAuthPath: true });
    else entry.finish({ pin: String(msg.pin ?? "") });
    sendResponse(true);
  }
  return false;
});
