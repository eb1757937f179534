// The kiosk's service worker, served at /kiosk/{exhibition}/sw.js with the
// kiosk page as its scope. It keeps the exhibition offline: every address
// /kiosk/{exhibition}/offline.json lists, in a cache named after the list's
// version. A new version is fetched into a new cache, and the old cache is
// deleted only once the new one is complete, so the kiosk always has one whole
// exhibition to show. The page asks it to sync when it starts and whenever the
// heartbeat brings another version.
//
// Answers: the page and the list, from the network first (from the cache when
// the server is away); /media and /static/viewer files (immutable) and IIIF
// tiles, from the cache first. Navigation inside the kiosk's scope always ends
// on the kiosk page.

const BASE = self.location.pathname.replace(/\/sw\.js$/, ""); // "/kiosk/<exhibition>"
const LIST = `${BASE}/offline.json`;
const STATE = `${BASE}/.kiosk-cache-state`; // a synthetic entry: how complete this cache is
const PREFIX = `kiosk:${BASE}:`;
const CONCURRENCY = 4;
const NETWORK_TIMEOUT = 4000; // ms before a hanging network is given up for the cache
const PROGRESS_EVERY = 10; // files between progress messages
const CACHE_FIRST = /^\/(media|static\/viewer|iiif)\//;
const DROPPED_HEADERS = ["content-encoding", "content-length", "transfer-encoding"];
const MATCH = { ignoreVary: true };

let running = null;

self.addEventListener("install", (event) => event.waitUntil(self.skipWaiting()));

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("message", (event) => {
  const type = event.data?.type;
  if (type === "sync") event.waitUntil(sync());
  else if (type === "status") event.waitUntil(currentState().then(broadcast));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    if (url.pathname === BASE || url.pathname.startsWith(`${BASE}/`)) event.respondWith(page(request, url));
    return;
  }
  if (CACHE_FIRST.test(url.pathname)) event.respondWith(cacheFirst(request));
  else event.respondWith(networkFirst(request));
});

// ---- Answers -------------------------------------------------------------------

function withTimeout(promise) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("network timeout")), NETWORK_TIMEOUT);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * The kiosk page: the server's, else the saved one. A kiosk never shows an error page
 * (whose site header would be a way out): when the server answers with an error, the
 * saved exhibition is shown if there is one.
 */
async function page(request, url) {
  if (url.pathname !== BASE) return Response.redirect(`${BASE}${url.search}`, 303);
  let response = null;
  try {
    response = await withTimeout(fetch(request));
    if (response.ok) return response;
  } catch {
    // the server or the network is away
  }
  return (await caches.match(BASE, MATCH)) ?? response ?? Response.error();
}

async function cacheFirst(request) {
  const cached = await caches.match(request.url, MATCH);
  return cached ?? fetch(request);
}

async function networkFirst(request) {
  try {
    return await withTimeout(fetch(request));
  } catch (error) {
    const cached = await caches.match(request.url, MATCH);
    if (cached) return cached;
    throw error;
  }
}

// ---- Keeping the exhibition ----------------------------------------------------

function sync() {
  running ??= fill().finally(() => {
    running = null;
  });
  return running;
}

async function fill() {
  let list;
  try {
    const response = await fetch(LIST, { cache: "no-store" });
    if (!response.ok) throw new Error(`${response.status} ${LIST}`);
    list = await response.json();
  } catch (error) {
    await broadcast({ ...(await currentState()), offline: true, error: String(error.message ?? error) });
    return;
  }
  const name = PREFIX + list.version;
  const cache = await caches.open(name);
  const state = (await readState(cache)) ?? { version: list.version, bytes: 0, complete: false };
  state.total = list.urls.length;
  if (!state.complete) await fetchAll(cache, list.urls, state);
  await cache.put(LIST, json(list));
  state.entries = await countEntries(cache);
  state.complete = state.entries >= state.total && !state.error;
  state.updated = Date.now();
  await cache.put(STATE, json(state));
  if (state.complete) await dropOthers(name);
  await broadcast(state);
}

async function fetchAll(cache, urls, state) {
  const queue = [...urls];
  const errors = [];
  let done = 0;
  const worker = async () => {
    while (queue.length) {
      const url = queue.shift();
      if (await cache.match(url, MATCH)) continue;
      try {
        state.bytes += await store(cache, url);
      } catch (error) {
        errors.push(String(error.message ?? error));
      }
      done += 1;
      if (done % PROGRESS_EVERY === 0) {
        await broadcast({ ...state, entries: await countEntries(cache) });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  state.error = errors.length ? `${errors.length} files failed, e.g. ${errors[0]}` : "";
}

/** Fetch one address (revalidated, never from the HTTP cache's stale copy) and keep it. */
async function store(cache, url) {
  const response = await fetch(url, { cache: "no-cache", credentials: "same-origin" });
  if (!response.ok) throw new Error(`${response.status} ${url}`);
  const body = await response.blob();
  const headers = new Headers(response.headers);
  for (const name of DROPPED_HEADERS) headers.delete(name); // the body is stored decoded
  await cache.put(url, new Response(body, { status: response.status, statusText: response.statusText, headers }));
  return body.size;
}

function json(data) {
  return new Response(JSON.stringify(data), { headers: { "content-type": "application/json" } });
}

async function readState(cache) {
  const response = await cache.match(STATE);
  return response ? response.json() : null;
}

async function countEntries(cache) {
  const keys = await cache.keys();
  const own = new Set([STATE, LIST].map((path) => new URL(path, self.location.origin).href));
  return keys.filter((request) => !own.has(request.url)).length;
}

async function kioskCaches() {
  return (await caches.keys()).filter((name) => name.startsWith(PREFIX));
}

async function dropOthers(keep) {
  await Promise.all((await kioskCaches()).filter((name) => name !== keep).map((name) => caches.delete(name)));
}

/** The most complete, most recent copy this kiosk holds. */
async function currentState() {
  const states = [];
  for (const name of await kioskCaches()) {
    const state = await readState(await caches.open(name));
    if (state) states.push(state);
  }
  states.sort((a, b) => Number(b.complete) - Number(a.complete) || (b.updated ?? 0) - (a.updated ?? 0));
  return states[0] ?? { version: "", entries: 0, bytes: 0, total: 0, complete: false };
}

async function broadcast(state) {
  const clients = await self.clients.matchAll({ includeUncontrolled: true, type: "window" });
  for (const client of clients) client.postMessage({ type: "status", ...state });
}
