// The exhibition room's three.js objects: walls, floor, light, plinths, frames
// and labels, built from the plan of room-layout.js. Media (model levels,
// pictures) are put in later by room.js as they load; until then a plinth
// carries an outline of the object's size and a frame a plain canvas.

import * as THREE from "three";

const COLOURS = {
  wall: 0xf1e7d6,
  band: 0x8c1d18, // brocade red, the site's accent
  floor: 0x8a6446,
  ceiling: 0xe8dfd0,
  plinth: 0xe6d7bf,
  frame: 0x3b2418,
  canvas: 0xd9c7ae,
  outline: 0xa35a00,
};
const LABEL_INK = "#2b1d14";
const LABEL_PAPER = "#fffdf9";
const LABEL_ACCENT = "#8c1d18";
const LABEL_FONT = '"Noto Sans", system-ui, sans-serif';
const KIND_MARKS = { video: "▶ ", audio: "♪ " };
const FRAME_BORDER = 0.06;
const LABEL_HEIGHT = 0.2; // m, a label's height on a wall or plinth
const PX_PER_M = 600; // label canvas resolution

function plane(width, height, material) {
  return new THREE.Mesh(new THREE.PlaneGeometry(width, height), material);
}

function plankTexture() {
  const canvas = document.createElement("canvas");
  canvas.width = 256;
  canvas.height = 256;
  const ctx = canvas.getContext("2d");
  const shades = ["#8a6446", "#7d5a3f", "#94704f", "#80603f"];
  for (let row = 0; row < 8; row++) {
    ctx.fillStyle = shades[row % shades.length];
    ctx.fillRect(0, row * 32, 256, 32);
    ctx.fillStyle = "rgba(43, 29, 20, 0.55)";
    ctx.fillRect(0, row * 32 + 30, 256, 2);
    ctx.fillRect(((row * 97) % 256), row * 32, 2, 32);
  }
  const texture = new THREE.CanvasTexture(canvas);
  texture.wrapS = THREE.RepeatWrapping;
  texture.wrapT = THREE.RepeatWrapping;
  texture.colorSpace = THREE.SRGBColorSpace;
  return texture;
}

function shell(plan) {
  const group = new THREE.Group();
  const { width, depth, height } = plan;
  const floorTexture = plankTexture();
  floorTexture.repeat.set(width / 2, depth / 2);
  const floor = plane(width, depth, new THREE.MeshLambertMaterial({ map: floorTexture }));
  floor.rotation.x = -Math.PI / 2;
  floor.position.set(0, 0, -depth / 2);
  // Unlit: the hemisphere light's ground colour would make a lit ceiling brown.
  const ceiling = plane(width, depth, new THREE.MeshBasicMaterial({ color: COLOURS.ceiling }));
  ceiling.rotation.x = Math.PI / 2;
  ceiling.position.set(0, height, -depth / 2);
  group.add(floor, ceiling);
  const wallMaterial = new THREE.MeshLambertMaterial({ color: COLOURS.wall });
  const bandMaterial = new THREE.MeshLambertMaterial({ color: COLOURS.band });
  const walls = [
    { length: width, x: 0, z: -depth, rotation: 0 },
    { length: width, x: 0, z: 0, rotation: Math.PI },
    { length: depth, x: -width / 2, z: -depth / 2, rotation: Math.PI / 2 },
    { length: depth, x: width / 2, z: -depth / 2, rotation: -Math.PI / 2 },
  ];
  for (const wall of walls) {
    const side = new THREE.Group();
    side.position.set(wall.x, 0, wall.z);
    side.rotation.y = wall.rotation;
    const face = plane(wall.length, height, wallMaterial);
    face.position.y = height / 2;
    const band = plane(wall.length, 0.12, bandMaterial); // a woven band at hand height
    band.position.set(0, 0.9, 0.005);
    side.add(face, band);
    group.add(side);
  }
  return group;
}

function lights(plan) {
  const ambient = new THREE.AmbientLight(0xffffff, 0.6); // walls facing away from the sun
  const hemisphere = new THREE.HemisphereLight(0xfff6e8, 0x6b4a32, 2.0);
  const sun = new THREE.DirectionalLight(0xffffff, 1.6);
  sun.position.set(plan.width / 3, plan.height * 2, 2);
  sun.target.position.set(0, 0, -plan.depth / 2);
  return [ambient, hemisphere, sun, sun.target];
}

function wrapLines(ctx, text, maxWidth, maxLines) {
  const words = text.split(/\s+/).filter(Boolean);
  const lines = [];
  let line = "";
  for (const word of words) {
    const candidate = line ? `${line} ${word}` : word;
    if (ctx.measureText(candidate).width <= maxWidth || !line) {
      line = candidate;
    } else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  if (lines.length > maxLines) {
    lines.length = maxLines;
    lines[maxLines - 1] = `${lines[maxLines - 1].replace(/\s*\S*$/, "")} …`;
  }
  return lines;
}

/** A label as a canvas texture on a plane ``width`` m wide: "number. text", wrapped. */
export function labelMesh(number, text, width, height = LABEL_HEIGHT) {
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * PX_PER_M);
  canvas.height = Math.round(height * PX_PER_M);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = LABEL_PAPER;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = LABEL_ACCENT;
  ctx.fillRect(0, 0, canvas.width * 0.015 + 4, canvas.height);
  const pad = canvas.height * 0.12;
  const maxLines = height > LABEL_HEIGHT ? 5 : 2;
  const size = Math.min(canvas.height / (maxLines + 0.8), 44);
  ctx.font = `700 ${size}px ${LABEL_FONT}`;
  ctx.fillStyle = LABEL_INK;
  ctx.textBaseline = "top";
  const lines = wrapLines(ctx, `${number}. ${text}`, canvas.width - 2.5 * pad, maxLines);
  lines.forEach((line, i) => ctx.fillText(line, pad * 1.5, pad + i * size * 1.25));
  const texture = new THREE.CanvasTexture(canvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  texture.anisotropy = 4;
  return plane(width, height, new THREE.MeshBasicMaterial({ map: texture }));
}

function modelStand(item, exhibit) {
  const { plinth, display } = item;
  const group = new THREE.Group();
  group.position.set(item.x, 0, item.z);
  const base = new THREE.Mesh(
    new THREE.BoxGeometry(plinth.width, plinth.height, plinth.depth),
    new THREE.MeshLambertMaterial({ color: COLOURS.plinth }),
  );
  base.position.y = plinth.height / 2;
  const anchor = new THREE.Group(); // the model goes here, standing on the plinth
  anchor.position.y = plinth.height;
  const [w, h, d] = display.size;
  const outline = new THREE.LineSegments(
    new THREE.EdgesGeometry(new THREE.BoxGeometry(w, h, d)),
    new THREE.LineBasicMaterial({ color: COLOURS.outline }),
  );
  outline.position.y = h / 2;
  anchor.add(outline);
  const label = labelMesh(exhibit.number, exhibit.label, Math.min(plinth.width - 0.1, 0.9));
  label.position.set(0, plinth.height - LABEL_HEIGHT / 2 - 0.05, plinth.depth / 2 + 0.005);
  group.add(base, anchor, label);
  return { group, anchor, picture: null, centreY: plinth.height + h / 2 };
}

function wallFrame(item, exhibit) {
  const group = new THREE.Group();
  group.position.set(item.x, item.y, item.z);
  group.rotation.y = item.rotationY;
  const hasPicture = Boolean(exhibit.picture);
  let picture = null;
  if (hasPicture) {
    const border = new THREE.Mesh(
      new THREE.BoxGeometry(item.width + 2 * FRAME_BORDER, item.height + 2 * FRAME_BORDER, 0.04),
      new THREE.MeshLambertMaterial({ color: COLOURS.frame }),
    );
    picture = plane(item.width, item.height, new THREE.MeshBasicMaterial({ color: COLOURS.canvas }));
    picture.position.z = 0.021;
    group.add(border, picture);
    const mark = KIND_MARKS[exhibit.kind] ?? "";
    const label = labelMesh(exhibit.number, `${mark}${exhibit.label}`, Math.min(item.width, 1.0));
    label.position.set(0, -item.height / 2 - FRAME_BORDER - 0.08 - LABEL_HEIGHT / 2, 0.005);
    group.add(label);
  } else {
    const mark = KIND_MARKS[exhibit.kind] ?? "";
    const panel = labelMesh(exhibit.number, `${mark}${exhibit.label}`, item.width, item.height);
    panel.position.z = 0.01;
    group.add(panel);
  }
  return { group, anchor: null, picture, centreY: item.y };
}

/**
 * The room: {scene, stands}, one stand per exhibit ({group, anchor, picture,
 * centreY}); every stand's group carries ``userData.exhibit`` (its index) for picking.
 */
export function buildRoom(plan, exhibits) {
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(COLOURS.ceiling);
  scene.add(shell(plan), ...lights(plan));
  const stands = plan.items.map((item) => {
    const exhibit = exhibits[item.index];
    const stand = item.type === "model" ? modelStand(item, exhibit) : wallFrame(item, exhibit);
    stand.group.userData.exhibit = item.index;
    scene.add(stand.group);
    return stand;
  });
  return { scene, stands };
}

/** A loaded glTF scene sized to stand on a plinth: centred on it, at its shown size. */
export function fitModel(object, display) {
  const bounds = new THREE.Box3().setFromObject(object);
  const size = bounds.getSize(new THREE.Vector3());
  const largest = Math.max(size.x, size.y, size.z) || 1;
  const holder = new THREE.Group();
  object.position.set(
    -(bounds.min.x + bounds.max.x) / 2,
    -bounds.min.y,
    -(bounds.min.z + bounds.max.z) / 2,
  );
  holder.add(object);
  holder.scale.setScalar(display.largest / largest);
  return holder;
}

/** Show one fitted level of a model on its plinth, in place of whatever was there. */
export function showModel(stand, holder) {
  if (stand.anchor.children[0] === holder) return false;
  stand.anchor.clear();
  stand.anchor.add(holder);
  return true;
}

/** Show a loaded picture in its frame. */
export function placePicture(stand, texture) {
  texture.colorSpace = THREE.SRGBColorSpace;
  stand.picture.material.map = texture;
  stand.picture.material.color.set(0xffffff);
  stand.picture.material.needsUpdate = true;
}
