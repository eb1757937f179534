// The exhibition room's geometry, as pure functions (no three.js, no DOM), so
// the layout, walking and loading rules are unit-tested in node.
//
// Units are metres. The room spans x in [-width/2, width/2] and z in
// [-depth, 0]; the visitor enters at z = 0 and walks towards -z. A pose is
// {x, z, yaw, pitch}: yaw 0 looks along -z (three.js's default camera view),
// positive yaw turns left. Exhibits stand in walking order: models on plinths
// down the middle, pictures and text panels on the side walls.

export const EYE_HEIGHT = 1.6;
export const WALL_HEIGHT = 3.4;
export const WALKER_RADIUS = 0.3;
export const WALK_SPEED = 1.5; // m/s
export const TURN_SPEED = 1.6; // rad/s
export const MAX_PITCH = 0.6; // rad, up or down
const MAX_STEP_SECONDS = 0.05; // one collision check per 7.5 cm walked
const START_PITCH = -0.12; // a little down: plinths and labels in view on entering

const WALKWAY = 1.8; // clear floor each side of the plinths, where visitors stand
const PLINTH_GAP = 1.6; // along the room, between plinths
const FRAME_GAP = 0.9; // along a wall, between frames
const END_MARGIN = 2.6; // floor before the first and after the last exhibit
const MIN_WIDTH = 7;
const MIN_DEPTH = 8;
const WALL_INSET = 0.03; // frames hang this far off the wall

// A model's largest side is shown between these sizes: a coin is enlarged to be
// seen, a house shrunk to fit. Unknown sizes are shown at UNKNOWN_MODEL.
export const MODEL_MIN = 0.25;
export const MODEL_MAX = 1.8;
export const UNKNOWN_MODEL = 0.6;
const PLINTH_MIN = 0.6;
const PLINTH_MARGIN = 0.3;
const FRAME_MAX_WIDTH = 1.8;
const FRAME_MAX_HEIGHT = 1.3;
const FRAME_BOTTOM = 0.7; // lowest edge of a frame above the floor
const PANEL = { width: 1.0, height: 0.7 }; // text or audio panel without a picture

// Level of detail: the smallest level while an object spans less than
// FAR_APPARENT of the view's width (size / distance), one level finer per
// halving of the distance.
const FAR_APPARENT = 0.06;

/** How big a model is shown: its real size, clamped; ``scale`` = shown / real. */
export function modelDisplay(sizeM) {
  const real = Array.isArray(sizeM) && sizeM.length === 3 && sizeM.every((v) => v > 0) ? sizeM : null;
  if (!real) {
    return { size: [UNKNOWN_MODEL, UNKNOWN_MODEL, UNKNOWN_MODEL], largest: UNKNOWN_MODEL, scale: null };
  }
  const largest = Math.max(...real);
  const shown = Math.min(MODEL_MAX, Math.max(MODEL_MIN, largest));
  const scale = shown / largest;
  return { size: real.map((v) => v * scale), largest: shown, scale };
}

/** A plinth for a model shown at ``size`` [w, h, d]: square, lower for taller objects. */
export function plinthFor(size) {
  const side = Math.max(PLINTH_MIN, Math.max(size[0], size[2]) + PLINTH_MARGIN);
  const height = Math.min(1.0, Math.max(0.3, 1.1 - size[1] / 2));
  return { width: side, height, depth: side };
}

/** A frame's size for a picture of ``width`` × ``height`` px, or a plain panel. */
export function frameFor(picture) {
  if (!picture || !(picture.width > 0) || !(picture.height > 0)) return { ...PANEL };
  const aspect = picture.width / picture.height;
  const width = Math.min(FRAME_MAX_WIDTH, FRAME_MAX_HEIGHT * aspect);
  return { width, height: width / aspect };
}

function isModel(exhibit) {
  return exhibit.kind === "model" && Array.isArray(exhibit.lods) && exhibit.lods.length > 0;
}

/**
 * Place exhibits (in walking order) in a room sized to hold them without
 * overlap. Returns {width, depth, height, items, obstacles, start}: one item per
 * exhibit, in the same order, with its centre {x, y, z}, facing ``rotationY``
 * and, for models, its plinth and shown size.
 */
export function planRoom(exhibits) {
  const models = exhibits.map((e) => (isModel(e) ? modelDisplay(e.size_m) : null));
  const plinths = models.map((m) => (m ? plinthFor(m.size) : null));
  const widest = Math.max(0, ...plinths.map((p) => (p ? p.width : 0)));
  const width = Math.max(MIN_WIDTH, widest + 2 * WALKWAY);
  const cursors = { middle: END_MARGIN, left: END_MARGIN, right: END_MARGIN };
  let floor = END_MARGIN; // no exhibit starts before the previous one: order = walking order
  const items = exhibits.map((exhibit, index) => {
    const plinth = plinths[index];
    if (plinth) {
      const start = Math.max(cursors.middle, floor);
      cursors.middle = start + plinth.depth + PLINTH_GAP;
      floor = start;
      const centre = start + plinth.depth / 2;
      return {
        index,
        type: "model",
        x: 0,
        y: plinth.height,
        z: -centre,
        rotationY: 0,
        plinth,
        display: models[index],
        width: plinth.width,
        depth: plinth.depth,
      };
    }
    const frame = frameFor(exhibit.picture);
    const side = cursors.left <= cursors.right ? "left" : "right";
    const start = Math.max(cursors[side], floor);
    cursors[side] = start + frame.width + FRAME_GAP;
    floor = start;
    const sign = side === "left" ? -1 : 1;
    return {
      index,
      type: "wall",
      side,
      x: sign * (width / 2 - WALL_INSET),
      y: Math.max(EYE_HEIGHT - 0.1, FRAME_BOTTOM + frame.height / 2),
      z: -(start + frame.width / 2),
      rotationY: -sign * (Math.PI / 2), // faces into the room
      width: frame.width,
      height: frame.height,
    };
  });
  const used = Math.max(cursors.middle - PLINTH_GAP, cursors.left - FRAME_GAP, cursors.right - FRAME_GAP);
  const depth = Math.max(MIN_DEPTH, used + END_MARGIN);
  const obstacles = items
    .filter((item) => item.type === "model")
    .map((item) => ({
      minX: item.x - item.plinth.width / 2,
      maxX: item.x + item.plinth.width / 2,
      minZ: item.z - item.plinth.depth / 2,
      maxZ: item.z + item.plinth.depth / 2,
    }));
  return {
    width,
    depth,
    height: WALL_HEIGHT,
    items,
    obstacles,
    start: { x: 0, z: -0.6, yaw: 0, pitch: START_PITCH },
  };
}

function inside(x, z, box, radius) {
  return x > box.minX - radius && x < box.maxX + radius && z > box.minZ - radius && z < box.maxZ + radius;
}

function clampToRoom(x, z, plan, radius) {
  return {
    x: Math.min(plan.width / 2 - radius, Math.max(-plan.width / 2 + radius, x)),
    z: Math.min(-radius, Math.max(-plan.depth + radius, z)),
  };
}

function free(x, z, plan, radius) {
  return !plan.obstacles.some((box) => inside(x, z, box, radius));
}

/**
 * Where a walker going from ``from`` to ``to`` ({x, z}) ends up: inside the
 * walls and outside every plinth, sliding along an obstacle rather than
 * stopping dead, or staying put when neither way is free.
 */
export function moveWithin(from, to, plan, radius = WALKER_RADIUS) {
  const target = clampToRoom(to.x, to.z, plan, radius);
  const candidates = [target, { x: target.x, z: from.z }, { x: from.x, z: target.z }];
  return candidates.find((c) => free(c.x, c.z, plan, radius)) ?? { x: from.x, z: from.z };
}

function walkStep(pose, input, dt, plan) {
  const yaw = pose.yaw + (input.turn ?? 0) * TURN_SPEED * dt;
  const step = WALK_SPEED * dt;
  const forward = (input.forward ?? 0) * step;
  const strafe = (input.strafe ?? 0) * step;
  const to = {
    x: pose.x - Math.sin(yaw) * forward + Math.cos(yaw) * strafe,
    z: pose.z - Math.cos(yaw) * forward - Math.sin(yaw) * strafe,
  };
  return { ...pose, ...moveWithin(pose, to, plan), yaw };
}

/**
 * The pose after ``dt`` seconds of walking (``forward``, ``strafe``: -1..1) and
 * turning (``turn``: -1..1, + is left). Long intervals (a slow frame) are walked
 * in short steps, so the walker never passes through a plinth.
 */
export function walk(pose, input, dt, plan) {
  const steps = Math.max(1, Math.ceil(dt / MAX_STEP_SECONDS));
  let now = pose;
  for (let i = 0; i < steps; i++) now = walkStep(now, input, dt / steps, plan);
  return now;
}

/** Pitch stays within ±MAX_PITCH: looking at the floor or ceiling helps nobody. */
export function clampPitch(pitch) {
  return Math.min(MAX_PITCH, Math.max(-MAX_PITCH, pitch));
}

/** The yaw that looks from (x, z) towards (tx, tz). */
export function yawTowards(x, z, tx, tz) {
  return Math.atan2(-(tx - x), -(tz - z));
}

function distance(pose, item) {
  return Math.hypot(item.x - pose.x, item.z - pose.z);
}

/** Exhibit indices, nearest to the pose first: the order they are loaded in. */
export function loadOrder(items, pose) {
  return items
    .map((item) => ({ index: item.index, d: distance(pose, item) }))
    .sort((a, b) => a.d - b.d || a.index - b.index)
    .map((entry) => entry.index);
}

/**
 * The level of detail (index into ``count`` levels, smallest first) for an
 * object ``size`` metres across seen from ``distance`` metres.
 */
export function lodIndex(count, distanceM, size) {
  if (count <= 1) return 0;
  const apparent = size / Math.max(distanceM, 0.1);
  if (apparent < FAR_APPARENT) return 0;
  return Math.min(count - 1, 1 + Math.floor(Math.log2(apparent / FAR_APPARENT)));
}

/** The level to show: the finest loaded one not above ``wanted``, else the coarsest loaded. */
export function shownLevel(loaded, wanted) {
  const levels = [...loaded].sort((a, b) => a - b);
  if (!levels.length) return -1;
  const fitting = levels.filter((level) => level <= wanted);
  return fitting.length ? fitting[fitting.length - 1] : levels[0];
}

/**
 * The next level to fetch for one model: the smallest first, so something shows
 * at once; then the wanted one, straight, when it is finer than what is loaded.
 */
export function nextLevel(loaded, wanted) {
  if (!loaded.size) return 0;
  const finest = Math.max(...loaded);
  return wanted > finest ? wanted : -1;
}

function angleBetween(a, b) {
  const d = Math.abs(a - b) % (2 * Math.PI);
  return d > Math.PI ? 2 * Math.PI - d : d;
}

/**
 * The exhibit the visitor faces: within ``reach`` metres and ``halfAngle``
 * radians of the view's centre, the best centred (nearer wins ties); -1 if none.
 */
export function facingExhibit(pose, items, reach = 4.5, halfAngle = 0.45) {
  let best = -1;
  let bestScore = Infinity;
  for (const item of items) {
    const d = distance(pose, item);
    if (d > reach || d < 0.01) continue;
    const off = angleBetween(pose.yaw, yawTowards(pose.x, pose.z, item.x, item.z));
    if (off > halfAngle) continue;
    const score = off + d * 0.05;
    if (score < bestScore) {
      best = item.index;
      bestScore = score;
    }
  }
  return best;
}

/** Where to stand to look at an item: before a frame, or in the walkway beside a plinth. */
export function viewpointFor(item, plan) {
  let x;
  let z;
  if (item.type === "wall") {
    const back = Math.min(2.4, plan.width / 2 - WALKER_RADIUS - 0.2);
    x = item.x + (item.side === "left" ? back : -back);
    z = item.z;
  } else {
    x = item.x - (item.plinth.width / 2 + 0.9);
    z = item.z + item.plinth.depth / 2 + 0.6;
  }
  const spot = moveWithin({ x, z }, { x, z }, plan);
  return { x: spot.x, z: spot.z, yaw: yawTowards(spot.x, spot.z, item.x, item.z), pitch: 0 };
}

function shortestTurn(from, to) {
  let d = (to - from) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  return d;
}

/** The pose a fraction ``t`` (0..1) of the way from ``a`` to ``b``, turning the short way. */
export function blendPose(a, b, t) {
  const s = Math.min(1, Math.max(0, t));
  const eased = s * s * (3 - 2 * s);
  return {
    x: a.x + (b.x - a.x) * eased,
    z: a.z + (b.z - a.z) * eased,
    yaw: a.yaw + shortestTurn(a.yaw, b.yaw) * eased,
    pitch: a.pitch + (b.pitch - a.pitch) * eased,
  };
}
