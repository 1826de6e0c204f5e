// Service worker of the venue kiosk (scope /organizer/events/, registered by kiosk.js): keeps
// the last kiosk page of each event and the kiosk's scripts, so that the kiosk opens again (a
// reload, a restarted browser) while the network or the server is down. Taps made then wait in
// IndexedDB (kiosk.js) until they can be sent. Network first: a page or script the server
// answers is always the fresh one.
"use strict";
var CACHE = "shikaku-kiosk-v1";
var ASSETS = ["/static/webeid.js", "/static/kiosk.js", "/static/shikaku.css"];
var KIOSK_PAGE = /^\/organizer\/events\/[^/]+\/kiosk$/;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(ASSETS); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (!KIOSK_PAGE.test(url.pathname) && ASSETS.indexOf(url.pathname) < 0) return;
  event.respondWith(fetch(request).then(function (response) {
    // Only the page itself (not a redirect to the sign-in) is kept.
    if (response.ok && !response.redirected && response.type === "basic") {
      var copy = response.clone();
      event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(url.pathname, copy); }));
    }
    return response;
  }).catch(function () {
    return caches.match(url.pathname).then(function (kept) { return kept || Response.error(); });
  }));
});
