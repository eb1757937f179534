// The museum kiosk (server/templates/kiosk.html): a full-screen touch app on one
// exhibition. A visitor chooses a language, swipes or taps through the stops
// (each with its 3D model, deep-zoom image or recording, and its audio guide),
// and can search the stops with an on-screen keyboard that types Vietnamese and
// Êđê. After the idle time the kiosk resets for the next visitor and shows its
// attract loop until someone touches the screen. It keeps working offline
// (kiosk-sw.js) and reports to the museum (kiosk-sync.js).
//
// Every string comes from the page, in both languages. For tests, host.kiosk is
// this app: state {screen, lang, index, query, searchOpen}, sync, attractHost.

import { EDE_ROW, LETTER_ROWS, TONES, VIETNAMESE_ROW, applyKey } from "./kiosk-keyboard.js";
import { disposeIsland, isPlaying, mountTemplate, pauseAll, spin } from "./kiosk-media.js";
import {
  exhibitionPath,
  fill,
  freshState,
  isIdle,
  kioskConfig,
  searchStops,
  stepIndex,
  swipeDirection,
} from "./kiosk-state.js";
import { KioskSync } from "./kiosk-sync.js";

const TICK = 1000; // ms between idle checks
const SLIDE_SECONDS = 8;
const ACTIVITY = ["pointerdown", "keydown", "wheel", "touchstart", "input"];

function button(doc, className, text, onClick) {
  const node = doc.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = text;
  node.addEventListener("click", onClick);
  return node;
}

class Kiosk {
  constructor(host) {
    this.host = host;
    this.doc = host.ownerDocument;
    this.config = kioskConfig(host.dataset, window.location.search);
    this.strings = JSON.parse(host.querySelector("#kiosk-strings")?.textContent ?? "{}");
    this.stops = [...host.querySelectorAll(".kiosk-stop")];
    this.texts = this.stops.map((stop) => stop.dataset.search ?? stop.textContent);
    this.state = freshState(this.config);
    this.mounted = [];
    this.lastActivity = Date.now();
    this.capitals = false;
    const find = (selector) => host.querySelector(selector);
    this.ui = {
      counter: find(".kiosk-counter"),
      previous: find(".kiosk-previous"),
      next: find(".kiosk-next"),
      search: find(".kiosk-search"),
      query: find("#kiosk-query"),
      results: find(".kiosk-results"),
      resultsStatus: find(".kiosk-results-status"),
      keyboard: find(".kiosk-keyboard"),
      attract: find(".kiosk-attract"),
      attractStage: find(".kiosk-attract-stage"),
      slides: [...host.querySelectorAll(".kiosk-slide")],
      status: find(".kiosk-status"),
    };
    this.reducedMotion = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
  }

  get t() {
    return this.strings[this.state.lang] ?? {};
  }

  start() {
    this.guard();
    this.bind();
    this.buildKeyboard();
    this.setLanguage(this.config.defaultLanguage);
    this.show(0, { mount: false });
    this.setScreen("welcome");
    this.sync = new KioskSync(this.config, {
      onStatus: () => this.showStatus(),
      onAssign: (id) => this.assign(id),
    });
    this.sync.start();
    this.ticker = setInterval(() => this.tick(), TICK);
  }

  // ---- The kiosk is the whole world ----------------------------------------

  guard() {
    const doc = this.doc;
    doc.addEventListener("contextmenu", (event) => event.preventDefault());
    doc.addEventListener("dragstart", (event) => event.preventDefault());
    // No link leaves the exhibition: record pages, downloads, licences stay closed.
    // (A document's page list still turns pages: the deep-zoom viewer handles those clicks.)
    const stay = (event) => {
      if (event.target.closest?.("a[href]")) event.preventDefault();
    };
    doc.addEventListener("click", stay, true);
    doc.addEventListener("auxclick", stay, true);
    for (const name of ACTIVITY) doc.addEventListener(name, () => this.touched(), { capture: true, passive: true });
    doc.addEventListener("pointerdown", () => this.goFullScreen(), { once: true });
  }

  goFullScreen() {
    const root = this.doc.documentElement;
    if (!this.doc.fullscreenElement && this.doc.fullscreenEnabled) root.requestFullscreen?.().catch(() => {});
  }

  touched() {
    this.lastActivity = Date.now();
  }

  // ---- Screens ---------------------------------------------------------------

  bind() {
    const { host, ui } = this;
    for (const choice of host.querySelectorAll("[data-choose]")) {
      choice.addEventListener("click", () => this.begin(choice.dataset.choose));
    }
    host.querySelector(".kiosk-home")?.addEventListener("click", () => this.toWelcome());
    host.querySelector(".kiosk-search-open")?.addEventListener("click", () => this.openSearch());
    host.querySelector(".kiosk-search-close")?.addEventListener("click", () => this.closeSearch());
    ui.previous?.addEventListener("click", () => this.step(-1));
    ui.next?.addEventListener("click", () => this.step(1));
    ui.query?.addEventListener("input", () => this.search(ui.query.value));
    ui.attract?.addEventListener("click", () => this.leaveAttract());
    ui.attract?.addEventListener("keydown", () => this.leaveAttract());
    this.bindSwipe(host.querySelector(".kiosk-stops"));
  }

  bindSwipe(area) {
    if (!area) return;
    let start = null;
    area.addEventListener("pointerdown", (event) => {
      // A viewer's own drag (turning a model, panning an image) is not a swipe.
      start = event.target.closest(".kiosk-media") ? null : { x: event.clientX, y: event.clientY, time: event.timeStamp };
    });
    area.addEventListener("pointerup", (event) => {
      if (!start) return;
      const direction = swipeDirection(start, { x: event.clientX, y: event.clientY, time: event.timeStamp });
      start = null;
      if (direction) this.step(direction);
    });
    area.addEventListener("pointercancel", () => {
      start = null;
    });
  }

  setScreen(screen) {
    this.state.screen = screen;
    this.host.dataset.screen = screen;
    if (this.ui.attract) this.ui.attract.hidden = screen !== "attract";
  }

  begin(lang) {
    this.setLanguage(lang);
    this.setScreen("tour");
    this.show(this.state.index);
    // Screen readers start at the stop's title, in the chosen language.
    this.stops[this.state.index]?.querySelector(`.kiosk-panel[data-l="${this.state.lang}"] h2`)?.focus();
  }

  toWelcome() {
    this.closeSearch();
    this.unmount();
    this.setScreen("welcome");
    this.host.querySelector(`[data-choose="${this.state.lang}"]`)?.focus();
  }

  setLanguage(lang) {
    const chosen = this.config.languages.includes(lang) ? lang : this.config.defaultLanguage;
    this.state.lang = chosen;
    this.doc.body.dataset.lang = chosen;
    this.doc.documentElement.lang = chosen;
    for (const node of this.host.querySelectorAll("[data-aria]")) {
      node.setAttribute("aria-label", this.t[node.dataset.aria] ?? "");
    }
    this.updateCounter();
    this.showStatus();
  }

  // ---- Stops -------------------------------------------------------------------

  step(direction) {
    const index = stepIndex(this.state.index, direction, this.stops.length);
    if (index !== this.state.index) this.show(index);
  }

  show(index, { mount = true } = {}) {
    this.unmount();
    this.state.index = stepIndex(index, 0, this.stops.length);
    this.stops.forEach((stop, i) => {
      stop.hidden = i !== this.state.index;
    });
    this.updateCounter();
    if (mount && this.state.screen === "tour") this.mount();
  }

  updateCounter() {
    const count = this.stops.length;
    if (this.ui.counter) {
      this.ui.counter.textContent = count ? fill(this.t.stop_status, { number: this.state.index + 1, count }) : "";
    }
    if (this.ui.previous) this.ui.previous.disabled = this.state.index <= 0;
    if (this.ui.next) this.ui.next.disabled = this.state.index >= count - 1;
  }

  /** The shown stop's viewer and audio guide, in the visitor's language. */
  mount() {
    const stop = this.stops[this.state.index];
    if (!stop) return;
    const lang = this.state.lang;
    const stage = stop.querySelector(".kiosk-stage");
    const media = mountTemplate(stop.querySelector(`.kiosk-media-template[data-l="${lang}"]`), stage);
    if (media) {
      stage.classList.add("has-media");
      this.mounted.push(media);
    }
    const slot = stop.querySelector(`.kiosk-panel[data-l="${lang}"] .kiosk-guide-slot`);
    const guide = mountTemplate(stop.querySelector(`.kiosk-guide-template[data-l="${lang}"]`), slot);
    if (guide) this.mounted.push(guide);
  }

  unmount() {
    for (const host of this.mounted.splice(0)) disposeIsland(host);
    for (const stage of this.host.querySelectorAll(".kiosk-stage.has-media")) stage.classList.remove("has-media");
  }

  // ---- Search ------------------------------------------------------------------

  openSearch() {
    this.state.searchOpen = true;
    this.ui.search.hidden = false;
    this.ui.query.focus({ preventScroll: true });
    this.search(this.ui.query.value);
  }

  closeSearch() {
    this.state.searchOpen = false;
    if (this.ui.search) this.ui.search.hidden = true;
  }

  buildKeyboard() {
    const { keyboard } = this.ui;
    if (!keyboard) return;
    const row = (keys, className = "") => {
      const line = this.doc.createElement("div");
      line.className = `kiosk-keys ${className}`.trim();
      line.append(...keys);
      return line;
    };
    const letter = (value) => {
      const key = button(this.doc, "kiosk-key", value, () => this.press({ type: "letter", value }));
      key.dataset.letter = value;
      if (VIETNAMESE_ROW.includes(value)) key.setAttribute("lang", "vi");
      return key;
    };
    const labelled = (className, text, aria, onClick) => {
      const key = button(this.doc, className, text, onClick);
      key.dataset.aria = aria;
      return key;
    };
    const tones = TONES.map((tone) =>
      labelled("kiosk-key kiosk-tone", tone.label, `tone_${tone.id}`, () => this.press({ type: "tone", mark: tone.mark })),
    );
    const breve = labelled("kiosk-key kiosk-breve", "◌̆", "breve", () => this.press({ type: "breve" }));
    this.shift = labelled("kiosk-key kiosk-shift", "⇧", "shift", () => this.toggleCapitals());
    this.shift.setAttribute("aria-pressed", "false");
    keyboard.replaceChildren(
      row(LETTER_ROWS[0].map(letter)),
      row(LETTER_ROWS[1].map(letter)),
      row(LETTER_ROWS[2].map(letter)),
      row(VIETNAMESE_ROW.map(letter), "kiosk-keys-vi"),
      row([...EDE_ROW.map(letter), breve], "kiosk-keys-rad"),
      row(tones, "kiosk-keys-tones"),
      row([
        this.shift,
        labelled("kiosk-key kiosk-space", "␣", "space", () => this.press({ type: "space" })),
        labelled("kiosk-key kiosk-delete", "⌫", "delete", () => this.press({ type: "delete" })),
        labelled("kiosk-key kiosk-clear", "✕", "clear", () => this.press({ type: "clear" })),
      ]),
    );
  }

  toggleCapitals() {
    this.capitals = !this.capitals;
    this.shift.setAttribute("aria-pressed", String(this.capitals));
    for (const key of this.ui.keyboard.querySelectorAll("[data-letter]")) {
      key.textContent = this.capitals ? key.dataset.letter.toUpperCase() : key.dataset.letter;
    }
  }

  press(key) {
    const { query } = this.ui;
    query.value = applyKey(query.value, key, { capitals: this.capitals });
    if (this.capitals && key.type === "letter") this.toggleCapitals(); // one capital, as phones do
    this.search(query.value);
  }

  search(text) {
    this.state.query = text;
    const { results, resultsStatus } = this.ui;
    if (!results) return;
    const found = searchStops(this.texts, text);
    results.replaceChildren(
      ...found.map((index) => {
        const item = this.doc.createElement("li");
        const title = this.stops[index].querySelector(`.kiosk-panel[data-l="${this.state.lang}"] h2`);
        item.append(
          button(this.doc, "kiosk-result", title?.textContent.trim() ?? String(index + 1), () => {
            this.closeSearch();
            this.show(index);
          }),
        );
        return item;
      }),
    );
    if (!text.trim()) resultsStatus.textContent = "";
    else if (found.length) resultsStatus.textContent = fill(this.t.results, { count: found.length });
    else resultsStatus.textContent = fill(this.t.no_results, { query: text.trim() });
  }

  // ---- Idle: reset, attract loop -------------------------------------------------

  tick() {
    if (this.state.screen === "attract") return;
    if (isIdle(Date.now(), this.lastActivity, this.config.idleSeconds, isPlaying(this.host))) this.enterAttract();
  }

  /** A fresh kiosk for the next visitor: default language, first stop, nothing open or playing. */
  reset() {
    const fresh = freshState(this.config);
    pauseAll(this.host);
    this.unmount();
    this.ui.query.value = "";
    this.search("");
    this.closeSearch();
    if (this.capitals) this.toggleCapitals();
    this.setLanguage(fresh.lang);
    this.show(fresh.index, { mount: false });
    this.doc.activeElement?.blur?.();
  }

  enterAttract() {
    this.reset();
    if (this.pendingExhibition) {
      window.location.assign(exhibitionPath(this.config.scope, this.pendingExhibition) + window.location.search);
      return;
    }
    this.setScreen("attract");
    this.startAttract();
  }

  leaveAttract() {
    if (this.state.screen !== "attract") return;
    this.stopAttract();
    this.touched();
    this.setScreen("welcome");
  }

  startAttract() {
    this.slide = -1;
    this.nextSlide();
    if (!this.reducedMotion) this.slideTimer = setInterval(() => this.nextSlide(), SLIDE_SECONDS * 1000);
    if (!this.attractHost) {
      const featured = this.stops.find((stop) => stop.dataset.kind === "model");
      const template = featured?.querySelector(`.kiosk-media-template[data-l="${this.config.defaultLanguage}"]`);
      this.attractHost = mountTemplate(template, this.ui.attractStage);
      if (this.attractHost) this.ui.attract.classList.add("has-model");
    }
    // The featured model turns slowly, once it is on screen.
    if (!this.reducedMotion) {
      this.spinTimer = setInterval(() => {
        if (spin(this.attractHost, true)) clearInterval(this.spinTimer);
      }, TICK);
    }
  }

  stopAttract() {
    clearInterval(this.slideTimer);
    clearInterval(this.spinTimer);
    spin(this.attractHost, false);
  }

  nextSlide() {
    const { slides } = this.ui;
    if (!slides.length) return;
    this.slide = (this.slide + 1) % slides.length;
    slides.forEach((slide, i) => slide.classList.toggle("is-current", i === this.slide));
  }

  // ---- The museum's messages -----------------------------------------------------

  assign(exhibitionId) {
    // Never in the middle of a visit: at the next reset (or now, if nobody is here).
    this.pendingExhibition = exhibitionId;
    if (this.state.screen !== "tour") this.enterAttract();
  }

  showStatus() {
    const { status } = this.ui;
    const sync = this.sync;
    if (!status || !sync) return;
    const cache = sync.cache;
    let text = "";
    if (!sync.online) text = this.t.offline;
    else if (cache.total && !cache.complete) text = fill(this.t.saving, { done: cache.entries, total: cache.total });
    else if (cache.complete) text = this.t.saved;
    status.textContent = text ?? "";
    this.host.dataset.cache = cache.complete ? "complete" : "incomplete";
    this.host.dataset.cacheVersion = cache.manifest_version;
  }
}

/** Mount the kiosk app on its host; false when already mounted. */
export function mount(host) {
  if (!host || host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  const kiosk = new Kiosk(host);
  host.kiosk = kiosk;
  kiosk.start();
  return true;
}

mount(document.querySelector("[data-island='kiosk']"));
