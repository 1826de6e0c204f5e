// Content script (top frame only): relays the page's Web eID requests to the service worker
// and posts the answers back to the same window. It reads only the fields each command
// needs; anything else the page sends (an `origin`, a PIN) is dropped here.
(() => {
  "use strict";
  const api = globalThis.browser ?? globalThis.chrome;
  const PREFIX = "web-eid:";
  const COMMANDS = new Set(["status", "authenticate", "get-certificate", "get-signing-certificate", "sign"]);

  function post(message) {
    window.postMessage(message, window.location.origin);
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window) return;                  // the page's own window only
    const data = event.data;
    if (!data || typeof data.action !== "string" || !data.action.startsWith(PREFIX)) return;
    const command = data.action.slice(PREFIX.length);
    if (!COMMANDS.has(command)) return;                   // our own -ack/-success/-failure too
    post({ action: data.action + "-ack" });
    const options = data.options && typeof data.options === "object" ? data.options : {};
    const request = {
      kind: "web-eid",
      command,
      nonce: typeof data.challengeNonce === "string" ? data.challengeNonce : undefined,
      hash: typeof data.hash === "string" ? data.hash : undefined,
      hashFunction: typeof data.hashFunction === "string" ? data.hashFunction : undefined,
      lang: typeof options.lang === "string" ? options.lang : undefined,
      timeout: typeof options.userInteractionTimeout === "number" ? options.userInteractionTimeout : undefined
    };
    api.runtime.sendMessage(request).then(
      (reply) => {
        const outcome = reply && reply.error ? "-failure" : "-success";
        post(Object.assign({}, reply, { action: data.action + outcome }));
      },
      (error) => post({
        action: data.action + "-failure",
        error: { code: "ERR_WEBEID_EXTENSION_UNAVAILABLE", message: String(error) }
      })
    );
  });
})();
