/* homelog's service worker: keeps the Record app's shell for offline use and sends the
   outbox through Background Sync. Served at /sw.js (root scope) by homelog/record/routes.py,
   which fills in the version: a hash of every file below, so any change installs anew. */
"use strict";

const VERSION = {{ version|tojson }};
const CACHE = "homelog-shell-" + VERSION;
const SHELL = {{ shell|tojson }};
const RECORD_URL = {{ record_url|tojson }};

importScripts(...{{ imports|tojson }});

self.addEventListener("install", (event) => {
  // Fetch past the HTTP cache, so the new version never caches an old file. A new version
  // then waits: the page offers to reload into it rather than switching under the user.
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })))
    )
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((key) => key.startsWith("homelog-shell-") && key !== CACHE)
            .map((key) => caches.delete(key))
        )
      )
      .then(() => self.clients.claim())
  );
});

self.addEventListener("message", (event) => {
  if (event.data === "skip-waiting") self.skipWaiting();
  if (event.data === "version" && event.ports[0]) event.ports[0].postMessage(VERSION);
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // The Record screen opens from the cache at once, with or without a network (the data
  // comes from IndexedDB). Everything else, the API included, goes to the network.
  if (request.mode === "navigate" && url.pathname === RECORD_URL) {
    event.respondWith(fromCache(RECORD_URL, request));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(fromCache(url.pathname, request));
  }
});

async function fromCache(key, request) {
  const cache = await caches.open(CACHE);
  return (await cache.match(key)) || fetch(request);
}

self.addEventListener("sync", (event) => {
  if (event.tag !== HomelogStore.SYNC_TAG) return;
  event.waitUntil(
    HomelogStore.sendOutbox()
      .catch((error) => {
        // Offline again: reject, so the browser tries later. Signed out: the outbox waits
        // for the next sign-in, which sends it.
        if (error instanceof HomelogStore.Offline) throw error;
      })
      .finally(() => tellPages())
  );
});

async function tellPages() {
  const pages = await self.clients.matchAll({ type: "window" });
  for (const page of pages) page.postMessage("outbox-changed");
}
