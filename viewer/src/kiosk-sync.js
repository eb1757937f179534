// The kiosk's link to the museum: its service worker (kiosk-sw.js), which keeps
// the exhibition offline, and its heartbeat, which tells staff it is alive and
// tells it which exhibition to show. The kiosk id and token come once, in the
// setup address; they are kept in localStorage and taken out of the address bar.

import { takeCredentials } from "./kiosk-state.js";

const STORAGE_KEY = "museum-kiosk";
const MAX_ERROR = 500;

function readCredentials() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null");
    return saved?.id && saved?.token ? saved : null;
  } catch {
    return null;
  }
}

export class KioskSync {
  /**
   * ``onStatus({cache, online})`` hears every change; ``onAssign(exhibitionId)``
   * when staff assigned another exhibition.
   */
  constructor(config, { onStatus, onAssign }) {
    this.config = config;
    this.onStatus = onStatus;
    this.onAssign = onAssign;
    this.cache = { entries: 0, bytes: 0, total: 0, complete: false, manifest_version: "" };
    this.online = true;
    this.lastError = "";
    this.credentials = this.takeCredentials();
  }

  takeCredentials() {
    const { credentials, search } = takeCredentials(window.location.search);
    if (credentials) {
      try {
        localStorage.setItem(STORAGE_KEY, JSON.stringify(credentials));
      } catch {
        this.lastError = "localStorage is not available: the kiosk cannot keep its token";
      }
      const url = `${window.location.pathname}${search}${window.location.hash}`;
      window.history.replaceState(window.history.state, "", url);
    }
    return credentials ?? readCredentials();
  }

  start() {
    window.addEventListener("error", (event) => this.noteError(event.message));
    window.addEventListener("unhandledrejection", (event) => this.noteError(String(event.reason?.message ?? event.reason)));
    this.registerWorker();
    this.beat();
    this.timer = setInterval(() => this.beat(), this.config.heartbeatSeconds * 1000);
  }

  noteError(message) {
    this.lastError = String(message ?? "").slice(0, MAX_ERROR);
  }

  // ---- Service worker ------------------------------------------------------

  async registerWorker() {
    const workers = navigator.serviceWorker;
    if (!workers || !this.config.worker) return;
    workers.addEventListener("message", (event) => this.fromWorker(event.data));
    try {
      await workers.register(this.config.worker, { scope: this.config.scope });
      await workers.ready;
      this.askWorker("sync");
    } catch (error) {
      this.noteError(`service worker: ${error?.message ?? error}`);
    }
  }

  async askWorker(type) {
    const registration = await navigator.serviceWorker?.getRegistration(this.config.scope);
    const worker = navigator.serviceWorker?.controller ?? registration?.active;
    worker?.postMessage({ type });
  }

  fromWorker(data) {
    if (!data || data.type !== "status") return;
    this.cache = {
      entries: Number(data.entries) || 0,
      bytes: Number(data.bytes) || 0,
      total: Number(data.total) || 0,
      complete: Boolean(data.complete),
      manifest_version: String(data.version ?? ""),
    };
    if (data.error) this.noteError(`offline copy: ${data.error}`);
    this.onStatus(this);
  }

  // ---- Heartbeat -------------------------------------------------------------

  async beat() {
    this.askWorker("status");
    if (!this.credentials || !this.config.heartbeat) return;
    const body = {
      kiosk: this.credentials.id,
      exhibition_id: this.config.exhibition,
      version: this.config.appVersion,
      cache: this.cache,
      last_error: this.lastError,
    };
    let answer;
    try {
      const response = await fetch(this.config.heartbeat, {
        method: "POST",
        cache: "no-store",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.credentials.token}` },
        body: JSON.stringify(body),
      });
      this.setOnline(true);
      if (response.status === 401) this.noteError("the museum refused this kiosk's token: set it up again");
      if (!response.ok) return;
      answer = await response.json();
    } catch {
      this.setOnline(false); // the server or the network is down: the offline copy carries on
      return;
    }
    if (answer.manifest_version && answer.manifest_version !== this.cache.manifest_version) this.askWorker("sync");
    if (answer.exhibition_id && answer.exhibition_id !== this.config.exhibition) this.onAssign(answer.exhibition_id);
  }

  setOnline(online) {
    if (online === this.online) return;
    this.online = online;
    this.onStatus(this);
  }
}
