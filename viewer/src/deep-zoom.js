// The deep-zoom island: OpenSeadragon over the IIIF Image API tiles of a
// record's image or document, with the document's OCR text laid over each
// page (selectable, toggleable, and as plain text below for screen readers)
// and the words of a search (?hl= or ?q=) highlighted. Loaded only by pages
// that show an image (main.js imports it on demand); OpenSeadragon is most
// of its weight. Without script the figure shows a thumbnail linked to the
// full-size image, and a document a link per page.
//
// Host markup (server/templates/_images.html):
//   <figure data-island="deep-zoom" data-module="…" data-highlight="…"
//           data-zoom-in="…" … (every visible string, translated)>
//     <a class="dz-fallback" href="…full/max…"><img …></a>
//     <a data-page="1" data-info="/iiif/3/…/info.json" data-width data-height
//        data-annotations="/iiif/3/annotations/…">  (one per page)
//   </figure>
//
// OpenSeadragon draws no buttons of its own (they would be images fetched
// from its prefixUrl and labelled in English): the toolbar is plain HTML
// buttons with translated labels, reachable by keyboard.

import OpenSeadragon from "openseadragon";
import {
  annotationLines,
  detailUrl,
  fillTemplate,
  focusBox,
  pageMatches,
  searchWords,
  serviceOf,
  tileSourceOf,
  toPercentRect,
  toViewportRect,
} from "./iiif-url.js";

const ZOOM_STEP = 2;
const DETAIL_MAX_SIDE = 2000; // px: "open this view as an image" asks for at most this
const TEXT_FETCHES = 4; // annotation pages fetched at once when a search needs every page
const ANIMATION_TIME = 1.2; // s, OpenSeadragon's default
const KEY = { F: 70, J: 74, K: 75, R: 82, PAGE_UP: 33, PAGE_DOWN: 34 };
// OpenSeadragon's + and − zoom by 1.1 and miss the number pad's keys: these zoom like the buttons.
const ZOOM_KEYS = { "+": ZOOM_STEP, "=": ZOOM_STEP, "-": 1 / ZOOM_STEP, _: 1 / ZOOM_STEP };
const SVG = 'viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"';
const ICONS = {
  zoomIn: '<path d="M11 5v12M5 11h12" /><circle cx="11" cy="11" r="8" /><path d="M17 17l4 4" />',
  zoomOut: '<path d="M5 11h12" /><circle cx="11" cy="11" r="8" /><path d="M17 17l4 4" />',
  home: '<path d="M3 9V3h6M15 3h6v6M21 15v6h-6M9 21H3v-6" />',
  fullScreen: '<path d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5" /><path d="M9 9l-5-5M15 9l5-5M15 15l5 5M9 15l-5 5" />',
  previous: '<path d="M15 5l-7 7 7 7" />',
  next: '<path d="M9 5l7 7-7 7" />',
  textLayer: '<path d="M4 6h16M4 10h16M4 14h10M4 18h12" />',
  detail: '<path d="M14 4h6v6M20 4l-9 9M18 14v6H4V6h6" />',
};

const LINE_FONT = 0.8; // font size of an OCR line, as a share of its box's height
const MEASURE_SIZE = 100; // px: text is measured at this size; only proportions are used

let viewerCount = 0;
let measuring = null; // a 2D canvas context, to measure text without laying it out

// ---- Markup ------------------------------------------------------------------

function element(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function icon(doc, name) {
  const template = doc.createElement("template");
  template.innerHTML = `<svg ${SVG} fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">${ICONS[name]}</svg>`;
  return template.content.firstChild;
}

function button(doc, name, label, onClick) {
  const node = element(doc, "button", `dz-button dz-${name}`);
  node.type = "button";
  node.title = label;
  node.append(icon(doc, name), element(doc, "span", "dz-button-label", label));
  node.addEventListener("click", onClick);
  return node;
}

/** The width of `text` in `family` at `size` px (0 where canvas is unavailable). */
function textWidth(doc, text, family, size) {
  measuring ??= doc.createElement("canvas").getContext("2d");
  if (!measuring) return 0;
  measuring.font = `${size}px ${family}`;
  return measuring.measureText(text).width;
}

function readPages(host) {
  return [...host.querySelectorAll("a[data-info]")].map((link) => ({
    number: Number(link.dataset.page),
    info: link.dataset.info,
    annotations: link.dataset.annotations || null,
    width: Number(link.dataset.width),
    height: Number(link.dataset.height),
    link,
  }));
}

/** Text with the searched words wrapped in <mark> (built as nodes: OCR text is never markup). */
function markedText(doc, text, hits) {
  const fragment = doc.createDocumentFragment();
  let at = 0;
  for (const { start, end } of hits) {
    fragment.append(text.slice(at, start), element(doc, "mark", "", text.slice(start, end)));
    at = end;
  }
  fragment.append(text.slice(at));
  return fragment;
}

// ---- The viewer ----------------------------------------------------------------

class DeepZoom {
  constructor(host, pages) {
    this.host = host;
    this.doc = host.ownerDocument;
    this.pages = pages;
    this.strings = host.dataset;
    this.words = searchWords(host.dataset.highlight);
    this.index = 0; // the page shown
    this.requested = -1; // the page last handed to OpenSeadragon
    this.lines = new Map(); // page index -> Promise of its OCR lines
    this.hits = []; // every search hit of the document: {page, line, start, end, box}
    this.current = -1; // the hit chosen with next/previous match
    this.layer = null; // the current page's overlay: {page, element, marks}
    this.pendingFocus = null; // a hit to zoom to once its page has opened
    this.id = `deep-zoom-${++viewerCount}`;
  }

  get withText() {
    return this.pages.some((page) => page.annotations);
  }

  mount() {
    const { doc, host, strings } = this;
    this.fallback = host.querySelector(".dz-fallback");
    this.toolbar = this.buildToolbar();
    this.stage = element(doc, "div", "dz-stage");
    this.stage.id = `${this.id}-stage`;
    const hint = element(doc, "p", "dz-keyboard", strings.keyboard);
    hint.id = `${this.id}-keys`;
    this.alert = element(doc, "p", "dz-error");
    this.alert.setAttribute("role", "alert");
    this.alert.hidden = true;
    const parts = [this.toolbar, this.stage, hint, this.alert];
    if (this.words.length && this.withText) parts.push(this.buildSearchBar());
    if (this.withText) parts.push(this.buildTextPanel());
    this.fallback.before(...parts);
    this.viewer = this.openViewer();
    this.interceptPageLinks();
    this.showPage(0);
    if (this.searchBar) this.search();
    this.bindTripView();
  }

  // Field trips (viewer/src/trip.js): the teacher's region (image pixels) arrives as a
  // "museum:view" event, or waits on host.museumView until the image is open; moving here
  // announces the region as a bubbling "museum:viewchange" event.
  bindTripView() {
    this.pendingRegion = this.host.museumView?.region;
    this.host.addEventListener("museum:view", (event) => this.setRegion(event.detail?.region));
    this.viewer.addHandler("open", () => this.setRegion(this.pendingRegion));
    this.viewer.addHandler("animation-finish", () => {
      const item = this.viewer.world.getItemAt(0);
      if (!item) return;
      const box = item.viewportToImageRectangle(this.viewer.viewport.getBounds(true));
      const region = { x: box.x, y: box.y, w: box.width, h: box.height };
      this.host.dispatchEvent(new CustomEvent("museum:viewchange", { bubbles: true, detail: { region } }));
    });
  }

  setRegion(region) {
    if (!region) return;
    const item = this.viewer.world.getItemAt(0);
    if (!item) {
      this.pendingRegion = region;
      return;
    }
    this.pendingRegion = null;
    this.viewer.viewport.fitBounds(item.imageToViewportRectangle(region.x, region.y, region.w, region.h));
  }

  buildToolbar() {
    const { doc, strings } = this;
    const bar = element(doc, "div", "dz-toolbar");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", strings.controls);
    bar.setAttribute("aria-controls", `${this.id}-stage`);
    const zoom = (factor) => () => this.zoomBy(factor);
    bar.append(
      button(doc, "zoomOut", strings.zoomOut, zoom(1 / ZOOM_STEP)),
      button(doc, "zoomIn", strings.zoomIn, zoom(ZOOM_STEP)),
      button(doc, "home", strings.home, () => this.viewer.viewport.goHome()),
    );
    if (doc.fullscreenEnabled) {
      this.fullScreenButton = button(doc, "fullScreen", strings.fullScreen, () => this.toggleFullScreen());
      doc.addEventListener("fullscreenchange", () => this.fullScreenChanged());
      bar.append(this.fullScreenButton);
    }
    if (this.pages.length > 1) {
      this.previousPage = button(doc, "previous", strings.previousPage, () => this.showPage(this.index - 1));
      this.nextPage = button(doc, "next", strings.nextPage, () => this.showPage(this.index + 1));
      this.pageStatus = element(doc, "span", "dz-page-status");
      this.pageStatus.setAttribute("aria-live", "polite");
      const nav = element(doc, "span", "dz-page-nav");
      nav.append(this.previousPage, this.pageStatus, this.nextPage);
      bar.append(nav);
    }
    if (this.withText) {
      this.textButton = button(doc, "textLayer", strings.textLayer, () => this.toggleText());
      this.textButton.setAttribute("aria-pressed", "false");
      bar.append(this.textButton);
    }
    this.detailLink = element(doc, "a", "dz-button dz-detail");
    this.detailLink.target = "_blank";
    this.detailLink.rel = "noopener";
    this.detailLink.append(icon(doc, "detail"), element(doc, "span", "dz-button-label", strings.detail));
    bar.append(this.detailLink);
    return bar;
  }

  buildSearchBar() {
    const { doc, strings } = this;
    this.searchBar = element(doc, "div", "dz-search");
    this.matchStatus = element(doc, "p", "dz-matches");
    this.matchStatus.setAttribute("role", "status");
    this.previousMatch = button(doc, "previous", strings.previousMatch, () => this.goToHit(this.current - 1));
    this.nextMatch = button(doc, "next", strings.nextMatch, () => this.goToHit(this.current + 1));
    this.previousMatch.disabled = this.nextMatch.disabled = true;
    this.searchBar.append(this.matchStatus, this.previousMatch, this.nextMatch);
    return this.searchBar;
  }

  buildTextPanel() {
    const { doc } = this;
    this.textPanel = element(doc, "details", "dz-text");
    this.textSummary = element(doc, "summary");
    this.textBody = element(doc, "div", "dz-text-body");
    this.textPanel.append(this.textSummary, this.textBody);
    return this.textPanel;
  }

  openViewer() {
    const reduced = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
    const viewer = OpenSeadragon({
      element: this.stage,
      prefixUrl: "", // no navigation images: the toolbar above replaces them
      showNavigationControl: false,
      showSequenceControl: false,
      animationTime: reduced ? 0 : ANIMATION_TIME,
      blendTime: reduced ? 0 : 0.1,
      immediateRender: reduced,
      maxZoomPixelRatio: 2,
      visibilityRatio: 0.5,
      crossOriginPolicy: false,
      drawer: "canvas", // OpenSeadragon 5's WebGL drawer stalls where WebGL is emulated in software
    });
    viewer.addHandler("open", () => this.opened());
    viewer.addHandler("open-failed", () => this.failed());
    viewer.addHandler("animation-finish", () => this.updateDetail());
    viewer.addHandler("canvas-key", (event) => this.key(event));
    const canvas = viewer.canvas;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-describedby", `${this.id}-keys`);
    return viewer;
  }

  // ---- Pages ----------------------------------------------------------------

  showPage(index) {
    if (index < 0 || index >= this.pages.length) return;
    this.index = index;
    const page = this.pages[index];
    const { strings } = this;
    const status = fillTemplate(strings.pageStatus, { page: page.number, pages: this.pages.length });
    this.viewer.canvas.setAttribute("aria-label", this.pages.length > 1 ? `${strings.title}, ${status}` : strings.alt);
    if (this.pageStatus) {
      this.pageStatus.textContent = status;
      this.previousPage.disabled = index === 0;
      this.nextPage.disabled = index === this.pages.length - 1;
    }
    for (const [i, other] of this.pages.entries()) {
      if (i === index) other.link.setAttribute("aria-current", "page");
      else other.link.removeAttribute("aria-current");
    }
    const fullSize = this.host.querySelector(".dz-full"); // the caption's link follows the page
    fullSize?.setAttribute("href", page.link.getAttribute("href"));
    if (this.requested !== index) {
      this.requested = index;
      this.layer = null; // OpenSeadragon drops the overlays of the page it closes
      this.openImage(index);
    }
    if (this.textPanel) this.showPageText(index);
  }

  /** Reads the page's info.json itself, to hand OpenSeadragon only the sizes it can use. */
  openImage(index) {
    const page = this.pages[index];
    page.source ??= fetch(page.info).then((response) => {
      if (!response.ok) throw new Error(`${response.status} ${page.info}`);
      return response.json();
    });
    page.source.then(
      (info) => {
        if (index !== this.index) return;
        page.maxArea = info.maxArea;
        this.viewer.open(tileSourceOf(info));
      },
      () => {
        page.source = null; // a later visit tries again
        if (index !== this.index) return;
        this.requested = -1;
        this.failed();
      },
    );
  }

  opened() {
    this.fallback.hidden = true;
    this.alert.hidden = true;
    const index = this.index;
    // The fonts must be in before the lines are measured against their boxes.
    Promise.all([this.linesOf(index), this.doc.fonts?.ready]).then(([lines]) => {
      if (index !== this.index || !this.viewer.world.getItemCount()) return;
      this.addLayer(index, lines);
      if (this.pendingFocus?.page === index) this.focusHit(this.pendingFocus);
      this.pendingFocus = null;
    });
    this.updateDetail();
  }

  failed() {
    this.fallback.hidden = false;
    this.alert.hidden = false;
    this.alert.textContent = this.strings.error;
  }

  interceptPageLinks() {
    for (const [index, page] of this.pages.entries()) {
      if (page.link === this.fallback) continue;
      page.link.addEventListener("click", (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        this.showPage(index);
        this.viewer.canvas.focus({ preventScroll: true });
        this.host.scrollIntoView({ block: "nearest" });
      });
    }
  }

  zoomBy(factor) {
    this.viewer.viewport.zoomBy(factor);
    this.viewer.viewport.applyConstraints();
  }

  key(event) {
    const { keyCode: code, key, ctrlKey, metaKey, altKey } = event.originalEvent;
    if (ZOOM_KEYS[key] && !ctrlKey && !metaKey && !altKey) {
      event.preventDefaultAction = true;
      this.zoomBy(ZOOM_KEYS[key]);
      return;
    }
    // Rotating or mirroring would leave the text layer behind, and OpenSeadragon's
    // j/k go through pages of a sequence, which this viewer does not use.
    if ([KEY.R, KEY.F, KEY.J, KEY.K, KEY.PAGE_UP, KEY.PAGE_DOWN].includes(code)) event.preventDefaultAction = true;
    if (code === KEY.J || code === KEY.PAGE_UP) this.showPage(this.index - 1);
    if (code === KEY.K || code === KEY.PAGE_DOWN) this.showPage(this.index + 1);
  }

  // ---- Full screen and the detail link -----------------------------------------------

  toggleFullScreen() {
    if (this.doc.fullscreenElement === this.host) this.doc.exitFullscreen();
    else this.host.requestFullscreen().catch(() => {});
  }

  fullScreenChanged() {
    const full = this.doc.fullscreenElement === this.host;
    const label = full ? this.strings.exitFullScreen : this.strings.fullScreen;
    this.fullScreenButton.title = label;
    this.fullScreenButton.querySelector(".dz-button-label").textContent = label;
  }

  updateDetail() {
    const item = this.viewer.world.getItemAt(0);
    const page = this.pages[this.index];
    if (!item) return;
    const bounds = this.viewer.viewport.getBounds(true);
    const url = detailUrl(serviceOf(page.info), bounds, page, {
      maxSide: DETAIL_MAX_SIDE,
      maxArea: page.maxArea ?? Infinity,
    });
    if (url) this.detailLink.href = url;
  }

  // ---- OCR text ----------------------------------------------------------------------

  linesOf(index) {
    const page = this.pages[index];
    if (!page.annotations) return Promise.resolve([]);
    if (!this.lines.has(index)) {
      const loaded = fetch(page.annotations)
        .then((response) => (response.ok ? response.json() : null))
        .then((json) => annotationLines(json, page))
        .catch(() => []);
      this.lines.set(index, loaded);
    }
    return this.lines.get(index);
  }

  /**
   * The page's lines and hits as real text over the image, aligned with the
   * words. Positions are percentages of the page and font sizes follow the
   * zoom through --dz-scale (screen pixels per page pixel): a CSS scale()
   * on the whole layer would be simpler, but Chrome then cannot select text by
   * dragging across it.
   */
  addLayer(index, lines) {
    const { doc } = this;
    const page = this.pages[index];
    const outer = element(doc, "div", "dz-layer");
    outer.setAttribute("aria-hidden", "true"); // the same text is below, in reading order
    const place = (node, box) => {
      const rect = toPercentRect(box, page);
      Object.assign(node.style, { left: `${rect.left}%`, top: `${rect.top}%`, height: `${rect.height}%` });
      return rect;
    };
    const family = getComputedStyle(this.host).fontFamily;
    const spans = lines.map((line) => {
      const span = element(doc, "span", "dz-line", line.text);
      if (line.language) span.lang = line.language;
      place(span, line.box);
      const size = line.box.height * LINE_FONT;
      span.style.fontSize = `calc(var(--dz-scale) * ${size}px)`;
      // Stretch the line to its box: OCR gives the box, the font's letters are wider or narrower.
      const natural = textWidth(doc, line.text, family, size);
      if (natural > 0) span.style.transform = `scaleX(${line.box.width / natural})`;
      return span;
    });
    const marks = this.hits
      .map((hit, number) => ({ hit, number }))
      .filter(({ hit }) => hit.page === index)
      .map(({ hit, number }) => {
        const mark = element(doc, "span", "dz-hit");
        mark.dataset.hit = String(number);
        mark.style.width = `${place(mark, hit.box).width}%`;
        return mark;
      });
    outer.append(...spans, ...marks);
    // Selecting text must not pan the image underneath: OpenSeadragon never sees
    // the pointer on a line of text.
    for (const type of ["pointerdown", "pointermove", "pointerup", "click"]) {
      outer.addEventListener(type, (event) => {
        if (event.target.classList?.contains("dz-line")) event.stopPropagation();
      });
    }
    this.viewer.addOverlay({
      element: outer,
      location: this.viewer.world.getItemAt(0).getBounds(),
      onDraw: (position, size, node) => {
        Object.assign(node.style, {
          left: `${position.x}px`, top: `${position.y}px`, width: `${size.x}px`, height: `${size.y}px`,
        });
        node.style.setProperty("--dz-scale", String(size.x / page.width));
      },
    });
    this.layer = { page: index, element: outer, marks };
    this.markCurrent();
  }

  toggleText() {
    const on = this.textButton.getAttribute("aria-pressed") !== "true";
    this.textButton.setAttribute("aria-pressed", String(on));
    this.host.classList.toggle("dz-text-on", on);
  }

  showPageText(index) {
    const page = this.pages[index];
    this.textSummary.textContent = fillTemplate(this.strings.textTitle, { number: page.number });
    this.linesOf(index).then((lines) => {
      if (index !== this.index) return;
      if (!lines.length) {
        this.textBody.replaceChildren(element(this.doc, "p", "", this.strings.noText));
        return;
      }
      const lineNodes = lines.map((line, i) => {
        const hits = this.hits.filter((hit) => hit.page === index && hit.line === i);
        const node = element(this.doc, "span", "dz-text-line");
        if (line.language) node.lang = line.language;
        node.append(markedText(this.doc, line.text, hits), "\n");
        return node;
      });
      this.textBody.replaceChildren(...lineNodes);
    });
  }

  // ---- Search hits -----------------------------------------------------------------

  async search() {
    const indices = this.pages.flatMap((page, index) => (page.annotations ? [index] : []));
    // Hits are placed in their line by the width of the text in the layer's font.
    await this.doc.fonts?.ready;
    const family = getComputedStyle(this.host).fontFamily;
    const measure = (text) => textWidth(this.doc, text, family, MEASURE_SIZE) || [...text].length;
    const found = new Map();
    for (let i = 0; i < indices.length; i += TEXT_FETCHES) {
      const batch = indices.slice(i, i + TEXT_FETCHES);
      const pageLines = await Promise.all(batch.map((index) => this.linesOf(index)));
      batch.forEach((index, j) => found.set(index, pageMatches(pageLines[j], this.words, measure)));
    }
    this.hits = indices.flatMap((index) => found.get(index).map((hit) => ({ page: index, ...hit })));
    this.showMatchCount();
    this.previousMatch.disabled = this.nextMatch.disabled = this.hits.length === 0;
    if (this.layer) this.redrawLayer();
    if (this.textPanel) this.showPageText(this.index);
    if (this.hits.length) {
      this.current = 0;
      if (this.hits[0].page !== this.index) this.showPage(this.hits[0].page);
      this.markCurrent();
    }
  }

  showMatchCount() {
    const count = this.hits.length;
    const { strings } = this;
    this.matchStatus.textContent = count
      ? fillTemplate(count === 1 ? strings.matchOne : strings.matchOther, { count })
      : fillTemplate(strings.noMatch, { query: this.host.dataset.highlight });
  }

  redrawLayer() {
    const { page, element: node } = this.layer;
    this.viewer.removeOverlay(node);
    this.linesOf(page).then((lines) => {
      if (page === this.index) this.addLayer(page, lines);
    });
  }

  goToHit(number) {
    if (!this.hits.length) return;
    this.current = (number + this.hits.length) % this.hits.length;
    const hit = this.hits[this.current];
    this.matchStatus.textContent = fillTemplate(this.strings.matchStatus, { number: this.current + 1, count: this.hits.length });
    if (hit.page === this.index && this.layer?.page === hit.page) {
      this.markCurrent();
      this.focusHit(hit);
    } else {
      this.pendingFocus = hit;
      this.showPage(hit.page);
    }
  }

  focusHit(hit) {
    const page = this.pages[hit.page];
    const box = toViewportRect(focusBox(hit.box, page), page);
    this.viewer.viewport.fitBoundsWithConstraints(new OpenSeadragon.Rect(box.x, box.y, box.width, box.height));
  }

  markCurrent() {
    for (const mark of this.layer?.marks ?? []) {
      mark.classList.toggle("dz-hit-current", Number(mark.dataset.hit) === this.current);
    }
  }
}

/** Mount one viewer; returns false when its host names no image. */
export function mount(host) {
  const pages = readPages(host);
  if (!pages.length || host.dataset.mounted || !host.querySelector(".dz-fallback")) return false;
  host.dataset.mounted = "true";
  const zoom = new DeepZoom(host, pages);
  zoom.mount();
  host.deepZoom = zoom;
  return true;
}
