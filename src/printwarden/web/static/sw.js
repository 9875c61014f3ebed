// The portal's service worker (scope /web/portal/): it keeps the app shell (style sheet,
// script, manifest, icons) for when the network is slow or gone, and shows the notifications
// the Questions page sends it. Pages, questions and every other answer always come from the
// server: this worker never stores them.
"use strict";

const CACHE = "printwarden-shell-1";
const SHELL = [
  "/web/static/printwarden.css",
  "/web/portal/app/questions.js",
  "/web/portal/app/manifest.webmanifest",
  "/web/portal/app/icon-192.png",
  "/web/portal/app/icon-512.png",
];
const QUESTIONS = "/web/portal/questions";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  const stale = (names) => names.filter((name) => name !== CACHE);
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(stale(names).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

// The shell from the network when it answers (so it stays current), else from the cache.
// Anything else is not touched: the browser fetches it as if there were no worker.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const shell = url.origin === self.location.origin && SHELL.includes(url.pathname);
  if (event.request.method !== "GET" || !shell) return;
  event.respondWith(fetch(event.request)
    .then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(event.request, copy));
      }
      return response;
    })
    .catch(() => caches.match(event.request).then((found) => found || Response.error())));
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "notify" || typeof data.title !== "string") return;
  event.waitUntil(self.registration.showNotification(data.title, data.options || {}));
});

// A click on a notification brings the Questions page forward (or opens it).
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.matchAll({ type: "window" }).then((windows) => {
    const open = windows.find((client) => new URL(client.url).pathname === QUESTIONS);
    return open ? open.focus() : self.clients.openWindow(QUESTIONS);
  }));
});
