// The walkable exhibition room island: a three.js gallery generated from the
// exhibition, above the server's plain list of its stops, which stays (for
// screen readers, and as the whole exhibition where WebGL is missing).
//
// Host markup (server/templates/room.html):
//   <div data-island="room" data-module="…" data-lang="vi" data-no-webgl="…"
//        data-stage-label="…" data-help="…" data-forward="…" data-back="…"
//        data-left="…" data-right="…" data-show="…" data-facing="…{label}…"
//        data-progress="…{loaded}…{total}…" data-done="…{total}…" data-partial="…">
//     <ol class="room-list"><li class="room-exhibit" data-number="1"><a href="…">…</a></li>…</ol>
//     <script type="application/json" class="room-data">{"exhibits": […]}</script>
//   </div>
//
// Rendering is on demand: a frame is drawn when something changed (a key held,
// a drag, a glide, a model or picture arriving), never in an idle loop. Tests
// read ``host.room`` (renderer, exhibits, loaded, settled, pose, facing, busy,
// screenPoint).

import * as THREE from "three";
import { ExhibitLoader } from "./room-loader.js";
import {
  EYE_HEIGHT,
  WALK_SPEED,
  blendPose,
  clampPitch,
  facingExhibit,
  planRoom,
  viewpointFor,
  walk,
} from "./room-layout.js";
import { buildRoom } from "./room-scene.js";

// What each key does: [axis, direction]. Letters by physical position (event.code).
const KEYS = {
  ArrowUp: ["forward", 1],
  KeyW: ["forward", 1],
  ArrowDown: ["forward", -1],
  KeyS: ["forward", -1],
  ArrowLeft: ["turn", 1],
  KeyA: ["turn", 1],
  ArrowRight: ["turn", -1],
  KeyD: ["turn", -1],
  KeyQ: ["strafe", -1],
  KeyE: ["strafe", 1],
};
// On-screen buttons: [name (and data-attribute of its label), axis, direction, glyph].
const BUTTONS = [
  ["left", "turn", 1, "↺"],
  ["forward", "forward", 1, "↑"],
  ["back", "forward", -1, "↓"],
  ["right", "turn", -1, "↻"],
];
const MAX_DT = 0.5; // s: after a stalled frame (a busy machine) the walk does not leap
const DRAG_THRESHOLD = 6; // px before a press becomes a drag, not a click
const LOOK_SPEED = 0.005; // rad per px dragged
const STEP = 0.8; // m: one tap on the floor, or a walk button pressed from the keyboard
const TURN_STEP = Math.PI / 8;
const GLIDE_MS = 700;
const RECHECK_DISTANCE = 0.3; // m walked before levels of detail are chosen again
const FONT_WAIT_MS = 1500;

let roomCount = 0;

function format(template, values) {
  return (template ?? "").replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
}

function element(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function labelSpan(doc, exhibit) {
  const span = element(doc, "span", "", exhibit.label);
  if (exhibit.lang) span.lang = exhibit.lang;
  return span;
}

function readData(host) {
  try {
    return JSON.parse(host.querySelector("script.room-data")?.textContent ?? "null");
  } catch {
    return null;
  }
}

/** A WebGL 2 renderer, or null where the browser has none (old, disabled, blocklisted). */
function createRenderer(canvas) {
  if (typeof WebGL2RenderingContext === "undefined") return null;
  try {
    const context = canvas.getContext("webgl2", { antialias: true, powerPreference: "low-power" });
    return context ? new THREE.WebGLRenderer({ canvas, context, antialias: true }) : null;
  } catch {
    return null;
  }
}

function showNotice(host, text) {
  const note = element(host.ownerDocument, "p", "room-notice", text ?? "");
  note.setAttribute("role", "status");
  host.prepend(note);
}

/** The stage (focusable, holds the canvas), walk buttons, help and two status lines. */
function buildStage(host, canvas) {
  const doc = host.ownerDocument;
  const id = `room-${roomCount}`;
  const stage = element(doc, "div", "room-stage");
  stage.tabIndex = 0;
  stage.setAttribute("role", "application");
  stage.setAttribute("aria-label", host.dataset.stageLabel ?? "");
  stage.setAttribute("aria-describedby", `${id}-help`);
  canvas.setAttribute("aria-hidden", "true");
  stage.append(canvas);
  const controls = element(doc, "div", "room-controls");
  const buttons = BUTTONS.map(([name, axis, direction, glyph]) => {
    const button = element(doc, "button", `room-button room-${name}`);
    button.type = "button";
    button.title = host.dataset[name] ?? name;
    button.setAttribute("aria-label", button.title);
    const mark = element(doc, "span", "", glyph);
    mark.setAttribute("aria-hidden", "true");
    button.append(mark);
    controls.append(button);
    return { button, name, axis, direction };
  });
  const view = element(doc, "div", "room-view");
  view.append(stage, controls);
  const help = element(doc, "p", "room-help", host.dataset.help ?? "");
  help.id = `${id}-help`;
  const facing = element(doc, "p", "room-facing");
  facing.setAttribute("role", "status");
  const progress = element(doc, "p", "room-progress");
  host.prepend(view, help, facing, progress);
  return { stage, buttons, facing, progress };
}

/** One room: the scene, the visitor's pose, rendering on demand, loading, the list in sync. */
class Room {
  constructor(host, exhibits, renderer, canvas) {
    this.host = host;
    this.exhibits = exhibits;
    this.renderer = renderer;
    this.canvas = canvas;
    this.win = host.ownerDocument.defaultView;
    this.plan = planRoom(exhibits);
    const { scene, stands } = buildRoom(this.plan, exhibits);
    this.scene = scene;
    this.stands = stands;
    this.ui = buildStage(host, canvas);
    this.list = new Map(
      [...host.querySelectorAll(".room-exhibit[data-number]")].map((li) => [Number(li.dataset.number), li]),
    );
    this.camera = new THREE.PerspectiveCamera(62, 1, 0.05, 200);
    this.camera.rotation.order = "YXZ";
    this.renderer.setPixelRatio(Math.min(this.win.devicePixelRatio || 1, 1.5));
    this.reduceMotion = this.win.matchMedia?.("(prefers-reduced-motion: reduce)");
    this.loader = new ExhibitLoader(this.plan, exhibits, stands, () => this.invalidate());
    this.pose = { ...this.plan.start };
    this.glide = null;
    this.held = new Map(); // key code or button name -> [axis, direction]
    this.scheduled = false;
    this.lastTime = 0;
    this.frames = 0;
    this.facing = -1;
    this.checkedAt = null;
    this.raycaster = new THREE.Raycaster();
    this.frame = this.frame.bind(this);
  }

  get busy() {
    return this.scheduled || Boolean(this.glide) || this.held.size > 0;
  }

  invalidate() {
    if (this.scheduled) return;
    this.scheduled = true;
    this.win.requestAnimationFrame(this.frame);
  }

  resize() {
    const width = Math.max(1, this.ui.stage.clientWidth);
    const height = Math.max(1, this.ui.stage.clientHeight);
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.invalidate();
  }

  input() {
    const sum = { forward: 0, turn: 0, strafe: 0 };
    for (const [axis, direction] of this.held.values()) sum[axis] = Math.max(-1, Math.min(1, sum[axis] + direction));
    return sum;
  }

  /** Advance the pose (glide or held keys), draw, and ask for another frame while moving. */
  frame(now) {
    this.scheduled = false;
    const dt = this.lastTime ? Math.min(MAX_DT, (now - this.lastTime) / 1000) : 1 / 60;
    let moving = false;
    if (this.glide) {
      const t = (now - this.glide.start) / GLIDE_MS;
      this.pose = blendPose(this.glide.from, this.glide.to, t);
      if (t >= 1) this.glide = null;
      moving = true;
    } else {
      const move = this.input();
      moving = Boolean(move.forward || move.turn || move.strafe);
      if (moving) this.pose = walk(this.pose, move, dt, this.plan);
    }
    this.camera.position.set(this.pose.x, EYE_HEIGHT, this.pose.z);
    this.camera.rotation.set(this.pose.pitch, this.pose.yaw, 0);
    this.renderer.render(this.scene, this.camera);
    this.frames += 1;
    this.afterMove(!moving);
    this.lastTime = moving ? now : 0;
    if (moving) this.invalidate();
  }

  afterMove(still) {
    this.updateFacing();
    const { x, z } = this.pose;
    const far = !this.checkedAt || Math.hypot(x - this.checkedAt.x, z - this.checkedAt.z) > RECHECK_DISTANCE;
    if (far || still) {
      this.checkedAt = { x, z };
      this.loader.update(this.pose);
    }
    this.updateProgress();
  }

  /** The exhibit in front: marked in the list and announced, for Enter to open. */
  updateFacing() {
    const facing = facingExhibit(this.pose, this.plan.items);
    if (facing === this.facing) return;
    this.facing = facing;
    const number = facing >= 0 ? this.exhibits[facing].number : null;
    for (const [n, li] of this.list) {
      if (n === number) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    }
    if (facing < 0) {
      this.ui.facing.replaceChildren();
      return;
    }
    // "In front of you: {label}…", the label marked with its own language for screen readers.
    const [before, after = ""] = (this.host.dataset.facing ?? "{label}").split("{label}");
    this.ui.facing.replaceChildren(before, labelSpan(this.host.ownerDocument, this.exhibits[facing]), after);
  }

  updateProgress() {
    const { loaded, settled } = this.loader;
    const total = this.exhibits.length;
    const done = settled === total;
    const template = !done ? "progress" : loaded === total ? "done" : "partial";
    this.ui.progress.textContent = format(this.host.dataset[template], { loaded, total });
  }

  /** Glide to a pose, or jump there when the visitor asked for reduced motion. */
  moveTo(target) {
    if (this.reduceMotion?.matches) {
      this.pose = { ...target };
      this.glide = null;
    } else {
      this.glide = { from: { ...this.pose }, to: { ...target }, start: this.win.performance.now() };
    }
    this.invalidate();
  }

  goTo(index) {
    this.moveTo(viewpointFor(this.plan.items[index], this.plan));
  }

  step(axis, direction) {
    if (axis === "turn") this.moveTo({ ...this.pose, yaw: this.pose.yaw + direction * TURN_STEP });
    else this.moveTo(walk(this.pose, { [axis]: direction }, STEP / WALK_SPEED, this.plan));
  }

  look(dx, dy) {
    this.glide = null;
    this.pose = { ...this.pose, yaw: this.pose.yaw + dx * LOOK_SPEED, pitch: clampPitch(this.pose.pitch + dy * LOOK_SPEED) };
    this.invalidate();
  }

  open(index) {
    if (index >= 0 && this.exhibits[index].url) this.win.location.assign(this.exhibits[index].url);
  }

  /** The exhibit under a point of the page, or -1. */
  pick(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - rect.left) / rect.width) * 2 - 1, 1 - ((clientY - rect.top) / rect.height) * 2);
    this.raycaster.setFromCamera(ndc, this.camera);
    const groups = this.stands.map((stand) => stand.group);
    for (const hit of this.raycaster.intersectObjects(groups, true)) {
      for (let node = hit.object; node; node = node.parent) {
        if (Number.isInteger(node.userData.exhibit)) return node.userData.exhibit;
      }
    }
    return -1;
  }

  /** Where an exhibit's centre is on the page (for tests and tooling). */
  screenPoint(index) {
    const item = this.plan.items[index];
    const point = new THREE.Vector3(item.x, this.stands[index].centreY, item.z).project(this.camera);
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: rect.left + ((point.x + 1) / 2) * rect.width,
      y: rect.top + ((1 - point.y) / 2) * rect.height,
      onScreen: point.z < 1 && Math.abs(point.x) < 1 && Math.abs(point.y) < 1,
    };
  }

  /** What tests and tools may read: ``host.room``. */
  state() {
    const room = this;
    return {
      renderer: this.renderer,
      scene: this.scene,
      camera: this.camera,
      plan: this.plan,
      exhibits: this.exhibits.map((exhibit, index) => ({
        ...exhibit,
        get ready() {
          return room.loader.ready(index);
        },
        get levels() {
          return room.loader.levels(index);
        },
      })),
      get loaded() {
        return room.loader.loaded;
      },
      get settled() {
        return room.loader.settled === room.exhibits.length;
      },
      get pose() {
        return { ...room.pose };
      },
      get facing() {
        return room.facing;
      },
      get frames() {
        return room.frames;
      },
      get busy() {
        return room.busy;
      },
      goTo: (index) => this.goTo(index),
      screenPoint: (index) => this.screenPoint(index),
    };
  }
}

// Input: keys on the stage, pointer on the stage, walk buttons, the list

function bindKeys(room) {
  const { stage } = room.ui;
  stage.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      if (room.facing >= 0) {
        event.preventDefault();
        room.open(room.facing);
      }
      return;
    }
    const action = KEYS[event.code] ?? KEYS[event.key];
    if (!action || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault(); // arrows would scroll the page
    room.glide = null;
    room.held.set(event.code || event.key, action);
    room.invalidate();
  });
  stage.addEventListener("keyup", (event) => room.held.delete(event.code || event.key));
  stage.addEventListener("blur", () => room.held.clear());
}

/** Drag to look around; click or tap an exhibit to open it; tap the floor to step forward. */
function bindPointer(room) {
  const { stage } = room.ui;
  let drag = null;
  stage.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || drag) return;
    drag = { id: event.pointerId, x: event.clientX, y: event.clientY, startX: event.clientX, startY: event.clientY, moved: false };
    stage.setPointerCapture?.(event.pointerId);
  });
  stage.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    if (!drag.moved && Math.hypot(event.clientX - drag.startX, event.clientY - drag.startY) < DRAG_THRESHOLD) return;
    drag.moved = true;
    room.look(event.clientX - drag.x, event.clientY - drag.y);
    drag.x = event.clientX;
    drag.y = event.clientY;
  });
  const end = (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const { moved } = drag;
    drag = null;
    if (moved || event.type === "pointercancel") return;
    const hit = room.pick(event.clientX, event.clientY);
    if (hit >= 0) room.open(hit);
    else if (event.pointerType !== "mouse") room.step("forward", 1);
  };
  stage.addEventListener("pointerup", end);
  stage.addEventListener("pointercancel", end);
}

/** Hold a walk button to walk; pressed from the keyboard (Enter, Space) it takes one step. */
function bindButtons(room) {
  for (const { button, name, axis, direction } of room.ui.buttons) {
    const release = () => room.held.delete(name);
    button.addEventListener("pointerdown", (event) => {
      button.setPointerCapture?.(event.pointerId);
      room.glide = null;
      room.held.set(name, [axis, direction]);
      room.invalidate();
    });
    button.addEventListener("pointerup", release);
    button.addEventListener("pointercancel", release);
    button.addEventListener("lostpointercapture", release);
    button.addEventListener("click", (event) => {
      if (event.detail === 0) room.step(axis, direction);
    });
  }
}

/** "Show in the room" beside each exhibit of the list: go there, then keys act on the room. */
function bindList(room) {
  const doc = room.host.ownerDocument;
  room.exhibits.forEach((exhibit, index) => {
    const li = room.list.get(exhibit.number);
    if (!li) return;
    const button = element(doc, "button", "room-show", room.host.dataset.show ?? "");
    button.type = "button";
    const name = element(doc, "span", "visually-hidden", ": "); // heard, not seen
    name.append(labelSpan(doc, exhibit));
    button.append(name);
    button.addEventListener("click", () => {
      room.goTo(index);
      room.ui.stage.scrollIntoView({ block: "center", behavior: room.reduceMotion?.matches ? "auto" : "smooth" });
      room.ui.stage.focus({ preventScroll: true });
    });
    li.append(" ", button);
  });
}

function fontsReady(doc) {
  if (!doc.fonts?.ready) return Promise.resolve();
  const wait = new Promise((resolve) => setTimeout(resolve, FONT_WAIT_MS));
  return Promise.race([doc.fonts.ready, wait]);
}

function start(host, exhibits, renderer, canvas) {
  const room = new Room(host, exhibits, renderer, canvas);
  bindKeys(room);
  bindPointer(room);
  bindButtons(room);
  bindList(room);
  new room.win.ResizeObserver(() => room.resize()).observe(room.ui.stage);
  room.resize();
  host.dataset.roomState = "webgl";
  host.room = room.state();
  room.loader.update(room.pose);
}

/** Mount one room; returns false when the host has no exhibition description. */
export function mount(host) {
  const data = readData(host);
  if (!data || !Array.isArray(data.exhibits) || host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  roomCount += 1;
  const canvas = host.ownerDocument.createElement("canvas");
  const renderer = createRenderer(canvas);
  if (!renderer) {
    showNotice(host, host.dataset.noWebgl);
    host.dataset.roomState = "no-webgl";
    host.room = { renderer: null, exhibits: data.exhibits, loaded: 0 };
    return true;
  }
  // Labels are drawn once into canvases: with the page's font, when it has arrived.
  fontsReady(host.ownerDocument).then(() => start(host, data.exhibits, renderer, canvas));
  return true;
}
