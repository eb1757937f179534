// The 3D viewer island: a three.js scene over the server-rendered poster of a
// scan. It shows the smallest level of detail at once, then upgrades to the
// finest one this screen and connection deserve (lod.js), and offers what a
// visitor needs to look closely: orbit by mouse, touch or keyboard, reset and
// full screen, lighting presets (raking light shows relief), a measuring tool
// in real units, numbered annotations from the catalog, and AR where the
// device has it. It draws only when something changed (no constant loop).
//
// Host markup (server/templates/_model.html): a <figure data-island="model-viewer">
// holding .model-stage with the poster <img>, and data-attributes with the
// levels (data-lods, JSON), the size (data-dimensions), the annotations' API
// address and every visible string, translated by the server.
//
// For tests and tools, host.modelViewer is this viewer (renderer, camera,
// controls, currentLod, targetLod, snapshot()); host.dataset.state says
// "loading", "ready" or "error", and host.dataset.lodLoaded the level shown.

import {
  Box3,
  BufferGeometry,
  Color,
  DirectionalLight,
  Group,
  HemisphereLight,
  Line,
  LineBasicMaterial,
  Mesh,
  MeshBasicMaterial,
  PerspectiveCamera,
  Raycaster,
  Scene,
  SphereGeometry,
  Spherical,
  Vector2,
  Vector3,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { formatLength, metresPerUnit, orderLods, pickText, targetIndex, upgradeSequence } from "./lod.js";
import { createGLTFLoader } from "./model-loader.js";

const FIELD_OF_VIEW = 35; // degrees: little perspective distortion on objects
const START_POLAR = (75 * Math.PI) / 180; // a little above the object, as on a plinth
const ORBIT_STEP = Math.PI / 12; // 15° per arrow key
const TILT_STEP = Math.PI / 18; // 10° per arrow key
const ZOOM_STEP = 1.25;
const CLICK_SLOP = 5; // CSS pixels a pointer may move and still click
const MAX_PIXEL_RATIO = 2;
// An eighth of a turn in three seconds tells visitors the object can be turned,
// ends on the three-quarter view museum photographers like, and stays under
// WCAG 2.2.2's five seconds of unasked-for motion.
const INTRO_SECONDS = 3;
const INTRO_TURN = Math.PI / 4;
const INTRO_SPEED = ((INTRO_TURN / INTRO_SECONDS) * 60) / (2 * Math.PI); // OrbitControls' unit
const MEASURE_COLOR = 0xffd27a;
// Enter, Space and Escape are the page's keys, except while measuring.
const MEASURE_KEYS = new Set(["Enter", " ", "Escape"]);
const POINT_SIZE = 2; // CSS pixels per point of a point cloud
export const FIRST_FRAME = "model-viewer:first-frame"; // a performance mark
// Light rigs, positions in model radii around the model's centre. Raking light
// skims the surface from one side so carving and wear cast shadows.
const PRESETS = {
  studio: {
    background: 0xe6dfd4,
    sky: [0xffffff, 0x5c4a3d, 1.4],
    lights: [
      [0xffffff, 2.2, [1.2, 2, 1.6]],
      [0xfff4e6, 0.8, [-1.8, 0.6, 1]],
      [0xffffff, 0.6, [0, 1.2, -2]],
    ],
  },
  daylight: {
    background: 0xdfe9f1,
    sky: [0xcfe4ff, 0x8a6f4e, 1.3],
    lights: [
      [0xfff1d6, 3, [0.6, 3, 1]],
      [0, 0, [0, 1, 0]],
      [0, 0, [0, 1, 0]],
    ],
  },
  raking: {
    background: 0x1e1a17,
    sky: [0xffffff, 0x000000, 0.12],
    lights: [
      [0xfff8ee, 3.6, [3, 0.12, 0.6]],
      [0, 0, [0, 1, 0]],
      [0, 0, [0, 1, 0]],
    ],
  },
};

let viewerCount = 0;

function fill(template, values) {
  return String(template ?? "").replace(/\{(\w+)\}/g, (match, key) => values[key] ?? match);
}

function element(doc, tag, props = {}, children = []) {
  const node = doc.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key in node && !/^(aria|role)/.test(key)) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function parseJson(text, fallback) {
  try {
    return JSON.parse(text) ?? fallback;
  } catch {
    return fallback;
  }
}

function disposeTree(root) {
  root.traverse((node) => {
    node.geometry?.dispose();
    for (const material of [node.material].flat()) {
      if (!material) continue;
      for (const value of Object.values(material)) if (value?.isTexture) value.dispose();
      material.dispose();
    }
  });
}

function deviceInfo(stage) {
  const connection = navigator.connection || {};
  return {
    width: stage.clientWidth,
    height: stage.clientHeight,
    devicePixelRatio: window.devicePixelRatio || 1,
    saveData: Boolean(connection.saveData),
    effectiveType: connection.effectiveType,
    deviceMemory: navigator.deviceMemory,
  };
}

// The page's controls around the canvas; every string comes from the host.
function buildUi(host) {
  const doc = host.ownerDocument;
  const t = host.dataset;
  const id = `model-viewer-${++viewerCount}`;
  const stage = host.querySelector(".model-stage") || element(doc, "div", { className: "model-stage" });
  const frame = element(doc, "div", { className: "model-frame" });
  stage.replaceWith(frame);
  const canvas = element(doc, "canvas", {
    className: "model-canvas",
    tabIndex: 0,
    role: "application",
    "aria-label": t.canvasLabel ?? "",
    "aria-describedby": `${id}-help`,
  });
  const markers = element(doc, "div", { className: "model-markers" });
  const measureLabel = element(doc, "span", { className: "model-measure-label", hidden: true });
  stage.append(canvas, markers, measureLabel);
  const button = (className, label) => element(doc, "button", { type: "button", className }, [label ?? ""]);
  const reset = button("model-reset", t.reset);
  const fullscreen = button("model-fullscreen", t.fullscreen);
  fullscreen.hidden = !doc.fullscreenEnabled;
  const measure = button("model-measure", t.measure);
  measure.setAttribute("aria-pressed", "false");
  const ar = button("model-ar", t.ar);
  ar.hidden = true;
  const lighting = element(doc, "select", { id: `${id}-lighting` });
  for (const name of Object.keys(PRESETS)) {
    lighting.append(element(doc, "option", { value: name }, [t[`preset${name[0].toUpperCase()}${name.slice(1)}`] ?? name]));
  }
  const lightingLabel = element(doc, "label", { htmlFor: lighting.id }, [t.lighting ?? ""]);
  const toolbar = element(doc, "div", { className: "model-toolbar" }, [
    reset,
    fullscreen,
    element(doc, "span", { className: "model-lighting" }, [lightingLabel, lighting]),
    measure,
    ar,
  ]);
  const progress = element(doc, "progress", { className: "model-progress", max: 1, "aria-label": t.loading ?? "" });
  const status = element(doc, "p", { className: "model-status", role: "status", "aria-live": "polite" });
  const help = element(doc, "p", { className: "model-help", id: `${id}-help` }, [t.help ?? ""]);
  frame.append(stage, toolbar, progress, status, help);
  return { id, doc, frame, stage, canvas, markers, measureLabel, reset, fullscreen, measure, ar, lighting, progress, status };
}

class ModelViewer {
  constructor(host) {
    this.host = host;
    this.text = host.dataset;
    this.lang = host.dataset.lang || host.ownerDocument.documentElement.lang || "vi";
    this.lods = orderLods(parseJson(host.dataset.lods, []));
    this.dimensions = parseJson(host.dataset.dimensions, null);
    this.reducedMotion = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
    this.ui = buildUi(host);
    this.shown = -1; // index in this.lods of the level on screen
    this.loading = false;
    this.annotations = [];
    this.selected = -1;
    this.measurePoints = [];
    this.scale = 1; // metres per model unit
    this.frameRequested = false;
    this.lastTime = null;
  }

  get currentLod() {
    return this.lods[this.shown]?.name ?? null;
  }

  get targetLod() {
    return this.lods[this.target]?.name ?? null;
  }

  start() {
    this.setState("loading");
    this.ui.status.textContent = this.text.loading ?? "";
    try {
      this.initScene();
    } catch {
      this.fail(this.text.errorWebgl);
      return;
    }
    this.bindControls();
    this.bindTripView();
    this.setPreset(this.ui.lighting.value);
    this.detectAr();
    this.resize();
    new ResizeObserver(() => this.resize()).observe(this.ui.stage);
    this.target = targetIndex(this.lods, deviceInfo(this.ui.stage));
    const annotations = this.loadAnnotations();
    this.upgrade().then(() => annotations).then(() => {
      if (this.shown >= 0) this.setState("ready");
    });
  }

  setState(state) {
    this.host.dataset.state = state;
  }

  fail(message) {
    this.setState("error");
    this.ui.progress.hidden = true;
    this.ui.status.setAttribute("role", "alert");
    this.ui.status.textContent = message ?? "";
  }

  // Scene, camera, render on demand

  initScene() {
    this.renderer = new WebGLRenderer({ canvas: this.ui.canvas, antialias: true, alpha: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, MAX_PIXEL_RATIO));
    this.scene = new Scene();
    this.camera = new PerspectiveCamera(FIELD_OF_VIEW, 1, 0.01, 100);
    this.pivot = new Group(); // holds the model; AR moves and scales it
    this.sky = new HemisphereLight();
    this.lights = [0, 1, 2].map(() => new DirectionalLight());
    this.measureGroup = new Group();
    this.scene.add(this.pivot, this.sky, this.measureGroup, ...this.lights);
    for (const light of this.lights) this.scene.add(light.target);
    this.controls = new OrbitControls(this.camera, this.ui.canvas);
    this.controls.enableDamping = !this.reducedMotion;
    this.controls.zoomToCursor = true;
    this.controls.addEventListener("change", () => this.requestRender());
    this.controls.addEventListener("start", () => this.stopIntro());
  }

  requestRender() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame((time) => this.frame(time));
  }

  frame(time) {
    this.frameRequested = false;
    const delta = this.lastTime === null ? 0 : (time - this.lastTime) / 1000;
    this.lastTime = time;
    this.controls.update(delta); // emits "change" (another frame) while damping or turning
    if (this.controls.autoRotate) this.requestRender(); // its first frame moves nothing yet
    this.render();
    if (!this.frameRequested) this.lastTime = null;
  }

  render() {
    if (this.renderer.xr.isPresenting) return;
    this.renderer.render(this.scene, this.camera);
    this.placeOverlays();
  }

  /** The picture as a PNG data URL, drawn now (the drawing buffer is not kept between frames). */
  snapshot() {
    this.render();
    return this.renderer.domElement.toDataURL("image/png");
  }

  resize() {
    const { clientWidth: width, clientHeight: height } = this.ui.stage;
    if (!width || !height || this.renderer.xr.isPresenting) return;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.requestRender();
    if (this.target !== undefined) {
      this.target = Math.max(this.target, targetIndex(this.lods, deviceInfo(this.ui.stage)));
      this.upgrade();
    }
  }

  // Levels of detail

  async upgrade() {
    if (this.loading || this.host.dataset.state === "error") return;
    this.loading = true;
    const loader = createGLTFLoader();
    try {
      for (const index of upgradeSequence(this.lods, this.target, this.shown)) {
        const gltf = await loader.loadAsync(this.lods[index].src, (event) => this.progress(event));
        this.show(gltf.scene, index);
      }
    } catch {
      if (this.shown < 0) this.fail(this.text.errorLoad);
      else this.host.dataset.lodError = "true"; // keep the level shown; it is still useful
    } finally {
      this.loading = false;
      this.ui.progress.hidden = true;
    }
    if (this.shown >= 0 && this.shown < this.target && !this.host.dataset.lodError) this.upgrade();
  }

  progress(event) {
    const { progress } = this.ui;
    progress.hidden = false;
    if (event.total > 0) progress.value = event.loaded / event.total;
    else progress.removeAttribute("value");
  }

  show(model, index) {
    const first = this.shown < 0;
    const previous = this.model;
    this.model = model;
    model.traverse((node) => {
      if (node.isPoints) node.material.size = POINT_SIZE * this.renderer.getPixelRatio();
    });
    this.pivot.add(model);
    if (previous) {
      this.pivot.remove(previous);
      disposeTree(previous);
    }
    this.shown = index;
    this.host.dataset.lodLoaded = this.lods[index].name;
    if (first) {
      this.frameModel();
      this.host.querySelector(".model-poster")?.setAttribute("hidden", "");
      if (this.ui.status.textContent === this.text.loading) this.ui.status.textContent = "";
      this.startIntro();
      this.setView(this.pendingCamera ?? this.host.museumView?.camera);
      // Two animation frames later the first picture has been presented: the moment
      // scripts/bench_viewer.py times (performance.getEntriesByName(FIRST_FRAME)).
      requestAnimationFrame(() => requestAnimationFrame(() => performance.mark(FIRST_FRAME)));
    }
    this.requestRender();
  }

  frameModel() {
    const box = new Box3().setFromObject(this.model);
    const size = box.getSize(new Vector3());
    this.centre = box.getCenter(new Vector3());
    this.radius = Math.max(size.length() / 2, 1e-6);
    this.scale = metresPerUnit(this.dimensions, size);
    const distance = (this.radius / Math.sin((FIELD_OF_VIEW * Math.PI) / 360)) * 1.05;
    const offset = new Vector3().setFromSphericalCoords(distance, START_POLAR, 0);
    this.camera.position.copy(this.centre).add(offset);
    this.camera.near = distance / 100;
    this.camera.far = distance * 100;
    this.camera.updateProjectionMatrix();
    Object.assign(this.controls, { minDistance: this.radius * 0.05, maxDistance: distance * 4 });
    this.controls.target.copy(this.centre);
    this.controls.update();
    this.controls.saveState();
    this.placeLights();
  }

  startIntro() {
    if (this.reducedMotion) return;
    // Without damping the turn follows the clock, and stops dead when the time is up.
    Object.assign(this.controls, { autoRotate: true, autoRotateSpeed: INTRO_SPEED, enableDamping: false });
    this.introTimer = setTimeout(() => this.stopIntro(), INTRO_SECONDS * 1000);
    this.requestRender();
  }

  stopIntro() {
    clearTimeout(this.introTimer);
    Object.assign(this.controls, { autoRotate: false, enableDamping: !this.reducedMotion });
  }

  // Field trips (viewer/src/trip.js): the teacher's camera arrives as a "museum:view" event,
  // or waits on host.museumView until the model is in; turning the model here announces the
  // camera as a bubbling "museum:viewchange" event.

  bindTripView() {
    this.host.addEventListener("museum:view", (event) => this.setView(event.detail?.camera));
    this.controls.addEventListener("change", () => {
      if (this.shown < 0) return;
      const camera = {
        position: this.camera.position.toArray(),
        target: this.controls.target.toArray(),
        up: this.camera.up.toArray(),
      };
      this.host.dispatchEvent(new CustomEvent("museum:viewchange", { bubbles: true, detail: { camera } }));
    });
  }

  setView(camera) {
    if (!camera) return;
    if (this.shown < 0) {
      this.pendingCamera = camera;
      return;
    }
    this.pendingCamera = null;
    this.stopIntro();
    this.camera.position.fromArray(camera.position);
    this.camera.up.fromArray(camera.up);
    this.controls.target.fromArray(camera.target);
    this.controls.update();
    this.requestRender();
  }

  // Keyboard, buttons, pointer

  bindControls() {
    const { canvas, reset, fullscreen, measure, ar, lighting, frame, doc } = this.ui;
    canvas.addEventListener("keydown", (event) => this.onKey(event));
    reset.addEventListener("click", () => this.resetView());
    measure.addEventListener("click", () => this.setMeasuring(!this.measuring));
    lighting.addEventListener("change", () => this.setPreset(lighting.value));
    ar.addEventListener("click", () => this.startAr());
    fullscreen.addEventListener("click", () =>
      doc.fullscreenElement === frame ? doc.exitFullscreen() : frame.requestFullscreen(),
    );
    doc.addEventListener("fullscreenchange", () => {
      const on = doc.fullscreenElement === frame;
      fullscreen.textContent = (on ? this.text.exitFullscreen : this.text.fullscreen) ?? "";
      frame.classList.toggle("is-fullscreen", on);
    });
    let down = null;
    canvas.addEventListener("pointerdown", (event) => {
      down = { x: event.clientX, y: event.clientY };
    });
    canvas.addEventListener("pointerup", (event) => {
      const click = down && Math.hypot(event.clientX - down.x, event.clientY - down.y) <= CLICK_SLOP;
      if (click && this.measuring) this.measureAt(this.pointerNdc(event));
    });
  }

  onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const actions = {
      ArrowLeft: () => this.orbit(-ORBIT_STEP, 0),
      ArrowRight: () => this.orbit(ORBIT_STEP, 0),
      ArrowUp: () => this.orbit(0, -TILT_STEP),
      ArrowDown: () => this.orbit(0, TILT_STEP),
      "+": () => this.zoom(1 / ZOOM_STEP),
      "=": () => this.zoom(1 / ZOOM_STEP),
      "-": () => this.zoom(ZOOM_STEP),
      _: () => this.zoom(ZOOM_STEP),
      0: () => this.resetView(),
      Home: () => this.resetView(),
      Enter: () => this.measureAt(new Vector2(0, 0)),
      " ": () => this.measureAt(new Vector2(0, 0)),
      Escape: () => this.setMeasuring(false),
    };
    const action = actions[event.key];
    if (!action || !this.model || (MEASURE_KEYS.has(event.key) && !this.measuring)) return;
    event.preventDefault();
    action();
  }

  orbit(azimuth, polar) {
    this.stopIntro();
    const offset = this.camera.position.clone().sub(this.controls.target);
    const spherical = new Spherical().setFromVector3(offset);
    spherical.theta += azimuth;
    spherical.phi += polar;
    spherical.makeSafe();
    this.camera.position.copy(this.controls.target).add(offset.setFromSpherical(spherical));
    this.controls.update();
    this.requestRender();
  }

  zoom(factor) {
    this.stopIntro();
    const offset = this.camera.position.clone().sub(this.controls.target).multiplyScalar(factor);
    const { minDistance, maxDistance } = this.controls;
    offset.setLength(Math.min(Math.max(offset.length(), minDistance), maxDistance));
    this.camera.position.copy(this.controls.target).add(offset);
    this.controls.update();
    this.requestRender();
  }

  resetView() {
    this.stopIntro();
    this.controls.reset();
    this.requestRender();
  }

  pointerNdc(event) {
    const rect = this.ui.canvas.getBoundingClientRect();
    return new Vector2(
      ((event.clientX - rect.left) / rect.width) * 2 - 1,
      -((event.clientY - rect.top) / rect.height) * 2 + 1,
    );
  }

  // Lighting

  setPreset(name) {
    const preset = PRESETS[name] || PRESETS.studio;
    this.preset = preset;
    this.scene.background = new Color(preset.background);
    const [sky, ground, intensity] = preset.sky;
    this.sky.color.set(sky);
    this.sky.groundColor.set(ground);
    this.sky.intensity = intensity;
    this.placeLights();
    this.requestRender();
  }

  placeLights() {
    const centre = this.centre || new Vector3();
    const radius = this.radius || 1;
    this.preset.lights.forEach(([color, intensity, position], i) => {
      const light = this.lights[i];
      light.color.set(color);
      light.intensity = intensity;
      light.position.set(...position).multiplyScalar(radius).add(centre);
      light.target.position.copy(centre);
    });
  }

  // Measuring

  setMeasuring(on) {
    this.measuring = on;
    this.stopIntro();
    this.ui.measure.setAttribute("aria-pressed", String(on));
    this.ui.stage.classList.toggle("is-measuring", on);
    this.clearMeasure();
    this.ui.status.textContent = on ? (this.text.measureHelp ?? "") : "";
    this.requestRender();
  }

  clearMeasure() {
    this.measurePoints = [];
    this.distance = null;
    this.ui.measureLabel.hidden = true;
    for (const child of [...this.measureGroup.children]) {
      this.measureGroup.remove(child);
      child.geometry.dispose();
      child.material.dispose();
    }
  }

  measureAt(ndc) {
    const raycaster = new Raycaster();
    raycaster.params.Points.threshold = this.radius * 0.01;
    this.camera.updateMatrixWorld(); // keys may have moved it since the last frame
    raycaster.setFromCamera(ndc, this.camera);
    const hit = raycaster.intersectObject(this.model, true)[0];
    if (!hit) {
      this.ui.status.textContent = this.text.measureMissed ?? "";
      return;
    }
    if (this.measurePoints.length === 2) this.clearMeasure();
    this.measurePoints.push(hit.point.clone());
    this.measureGroup.add(this.measureDot(hit.point));
    if (this.measurePoints.length === 2) {
      const [a, b] = this.measurePoints;
      this.measureGroup.add(this.measureLine(a, b));
      this.distance = a.distanceTo(b) * this.scale; // metres
      const length = formatLength(this.distance, this.lang);
      this.ui.status.textContent = fill(this.text.distance, { distance: length });
      this.ui.measureLabel.textContent = length;
      this.ui.measureLabel.hidden = false;
    } else {
      this.ui.status.textContent = this.text.measureSecond ?? "";
    }
    this.requestRender();
  }

  measureDot(point) {
    const material = new MeshBasicMaterial({ color: MEASURE_COLOR, depthTest: false });
    const dot = new Mesh(new SphereGeometry(this.radius * 0.012, 12, 8), material);
    dot.position.copy(point);
    dot.renderOrder = 10;
    return dot;
  }

  measureLine(a, b) {
    const material = new LineBasicMaterial({ color: MEASURE_COLOR, depthTest: false });
    const line = new Line(new BufferGeometry().setFromPoints([a, b]), material);
    line.renderOrder = 10;
    return line;
  }

  // Annotations

  async loadAnnotations() {
    const url = this.host.dataset.annotations;
    if (!url) return;
    try {
      const response = await fetch(url, { headers: { accept: "application/json" } });
      if (!response.ok) return;
      const { items } = await response.json();
      this.annotations = items || [];
    } catch {
      return; // the model is still worth seeing without its notes
    }
    if (this.annotations.length) this.buildAnnotations();
  }

  buildAnnotations() {
    const { doc, id, markers } = this.ui;
    const list = element(doc, "ol", { className: "model-annotation-list" });
    this.annotations.forEach((note, i) => {
      const number = String(note.number ?? i + 1);
      const title = pickText(note.title, this.lang);
      const body = pickText(note.text, this.lang);
      const detailId = `${id}-note-${i}`;
      const details = element(doc, "div", { className: "model-annotation-detail", id: detailId, hidden: true });
      if (body.text) details.append(element(doc, "p", { lang: body.lang }, [body.text]));
      if (note.media_url) {
        const link = element(doc, "a", { href: note.media_url }, [this.text.mediaLink ?? note.media_url]);
        if (/^https?:/i.test(note.media_url)) link.rel = "noopener noreferrer external";
        details.append(element(doc, "p", {}, [link]));
      }
      const toggle = element(doc, "button", { type: "button", className: "model-annotation-toggle", "aria-expanded": "false", "aria-controls": detailId }, [
        element(doc, "span", { className: "model-annotation-number", "aria-hidden": "true" }, [number]),
        element(doc, "span", { lang: title.lang }, [title.text]),
      ]);
      const marker = element(doc, "button", {
        type: "button",
        className: "model-marker",
        "aria-label": fill(this.text.markerLabel || "{number}: {title}", { number, title: title.text }),
        "aria-expanded": "false",
        "aria-controls": detailId,
      }, [number]);
      toggle.addEventListener("click", () => this.select(i));
      marker.addEventListener("click", () => this.select(i));
      markers.append(marker);
      list.append(element(doc, "li", {}, [toggle, details]));
      Object.assign(note, { marker, toggle, details });
    });
    const headingId = `${id}-notes`;
    const section = element(doc, "section", { className: "model-annotations", "aria-labelledby": headingId }, [
      element(doc, "h3", { id: headingId }, [this.text.annotationsTitle ?? ""]),
      list,
    ]);
    this.ui.frame.after(section);
    this.host.classList.add("has-annotations");
    this.requestRender();
  }

  select(index) {
    const opening = this.selected !== index;
    this.selected = opening ? index : -1;
    this.annotations.forEach((note, i) => {
      const open = i === this.selected;
      note.details.hidden = !open;
      note.toggle.setAttribute("aria-expanded", String(open));
      note.marker.setAttribute("aria-expanded", String(open));
      note.marker.classList.toggle("is-selected", open);
    });
    if (opening && this.model) this.faceAnnotation(this.annotations[index]);
  }

  // Turn the camera (instantly: no motion to opt out of) to look at the point head-on.
  faceAnnotation(note) {
    this.stopIntro();
    const point = this.pivot.localToWorld(new Vector3(...note.position));
    const direction = note.normal ? new Vector3(...note.normal) : point.clone().sub(this.centre);
    if (direction.lengthSq() === 0) return;
    const distance = this.camera.position.distanceTo(this.controls.target);
    this.camera.position.copy(this.controls.target).addScaledVector(direction.normalize(), distance);
    this.controls.update();
    this.requestRender();
  }

  placeOverlays() {
    const width = this.ui.canvas.clientWidth;
    const height = this.ui.canvas.clientHeight;
    const place = (node, world) => {
      const screen = world.clone().project(this.camera);
      node.hidden = screen.z > 1 || Math.abs(screen.x) > 1 || Math.abs(screen.y) > 1;
      const x = ((screen.x + 1) / 2) * width;
      const y = ((1 - screen.y) / 2) * height;
      node.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px) translate(-50%, -50%)`;
    };
    for (const note of this.annotations) {
      if (!note.marker || !this.model) continue;
      const point = this.pivot.localToWorld(new Vector3(...note.position));
      place(note.marker, point);
      const facing = note.normal ? new Vector3(...note.normal) : point.clone().sub(this.centre);
      const towardsCamera = this.camera.position.clone().sub(point);
      note.marker.classList.toggle("is-behind", facing.dot(towardsCamera) < 0);
    }
    if (this.measurePoints.length === 2 && !this.ui.measureLabel.hidden) {
      const [a, b] = this.measurePoints;
      place(this.ui.measureLabel, a.clone().add(b).multiplyScalar(0.5));
    }
  }

  // Augmented reality (WebXR), offered only where the device supports it

  async detectAr() {
    try {
      if (await navigator.xr?.isSessionSupported?.("immersive-ar")) this.ui.ar.hidden = false;
    } catch {
      // no AR: the button stays hidden
    }
  }

  async startAr() {
    if (!this.model) return;
    let session;
    try {
      session = await navigator.xr.requestSession("immersive-ar", {
        requiredFeatures: ["local-floor"],
        optionalFeatures: ["dom-overlay"],
        domOverlay: { root: this.ui.frame },
      });
    } catch {
      this.ui.status.textContent = this.text.arError ?? "";
      return;
    }
    const background = this.scene.background;
    this.renderer.xr.enabled = true;
    this.renderer.xr.setReferenceSpaceType("local-floor");
    await this.renderer.xr.setSession(session);
    // True size, on the floor a metre and a half in front of the visitor.
    this.scene.background = null;
    this.pivot.scale.setScalar(this.scale);
    this.pivot.position.set(-this.centre.x * this.scale, 0, -1.5);
    this.renderer.setAnimationLoop(() => this.renderer.render(this.scene, this.camera));
    session.addEventListener("end", () => {
      this.renderer.setAnimationLoop(null);
      this.renderer.xr.enabled = false;
      this.scene.background = background;
      this.pivot.scale.setScalar(1);
      this.pivot.position.set(0, 0, 0);
      this.resize();
    });
  }
}

/** Mount one viewer; returns false when the host has no levels to show. */
export function mount(host) {
  if (host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  const viewer = new ModelViewer(host);
  host.modelViewer = viewer;
  if (viewer.lods.length === 0) {
    viewer.fail(host.dataset.errorLoad);
    return false;
  }
  viewer.start();
  return true;
}
