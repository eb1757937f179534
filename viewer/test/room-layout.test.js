import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MODEL_MAX,
  MODEL_MIN,
  UNKNOWN_MODEL,
  WALKER_RADIUS,
  blendPose,
  clampPitch,
  facingExhibit,
  frameFor,
  loadOrder,
  lodIndex,
  modelDisplay,
  moveWithin,
  nextLevel,
  planRoom,
  plinthFor,
  shownLevel,
  viewpointFor,
  walk,
  yawTowards,
} from "../src/room-layout.js";

const LODS = [{ url: "preview.glb" }, { url: "thumb.glb" }, { url: "web.glb" }];
const model = (size_m) => ({ kind: "model", lods: LODS, size_m });
const image = (width, height) => ({ kind: "image", picture: { width, height } });
const text = () => ({ kind: "text", picture: null });

function box(item) {
  if (item.type === "model") {
    return { minX: item.x - item.width / 2, maxX: item.x + item.width / 2, minZ: item.z - item.depth / 2, maxZ: item.z + item.depth / 2 };
  }
  return { minZ: item.z - item.width / 2, maxZ: item.z + item.width / 2, side: item.side };
}

function overlaps(a, b) {
  return a.minZ < b.maxZ - 1e-9 && b.minZ < a.maxZ - 1e-9;
}

describe("model sizes", () => {
  it("shows a model at its real size when that is sensible", () => {
    const shown = modelDisplay([0.3, 0.5, 0.2]);
    assert.deepEqual(shown.size, [0.3, 0.5, 0.2]);
    assert.equal(shown.scale, 1);
  });

  it("shrinks a house and enlarges a coin, keeping proportions", () => {
    const house = modelDisplay([12, 8, 10]);
    assert.ok(Math.abs(Math.max(...house.size) - MODEL_MAX) < 1e-9);
    assert.ok(Math.abs(house.size[1] / house.size[0] - 8 / 12) < 1e-9);
    const coin = modelDisplay([0.03, 0.002, 0.03]);
    assert.ok(Math.abs(Math.max(...coin.size) - MODEL_MIN) < 1e-9);
    assert.ok(coin.scale > 1);
  });

  it("gives an unknown size a default and no scale (fitted to the model's own bounds)", () => {
    for (const missing of [null, undefined, [0, 1, 1], [1, 2]]) {
      const shown = modelDisplay(missing);
      assert.deepEqual(shown.size, [UNKNOWN_MODEL, UNKNOWN_MODEL, UNKNOWN_MODEL]);
      assert.equal(shown.scale, null);
    }
  });

  it("puts tall objects on low plinths wider than their footprint", () => {
    const small = plinthFor([0.3, 0.3, 0.3]);
    const tall = plinthFor([0.5, 1.8, 0.5]);
    assert.ok(small.height > tall.height);
    assert.ok(small.width >= 0.6 && tall.width > 0.5);
  });

  it("frames a picture at its aspect ratio, a panel without one", () => {
    const wide = frameFor({ width: 1600, height: 900 });
    assert.ok(Math.abs(wide.width / wide.height - 16 / 9) < 1e-9);
    const tall = frameFor({ width: 600, height: 1200 });
    assert.ok(Math.abs(tall.width / tall.height - 0.5) < 1e-9);
    assert.ok(tall.height <= 1.3 + 1e-9 && wide.width <= 1.8 + 1e-9);
    assert.deepEqual(frameFor(null), frameFor({ width: 0, height: 10 }));
  });
});

describe("placing exhibits", () => {
  it("puts models on plinths in the middle and pictures on the walls, inside the room", () => {
    const plan = planRoom([model([0.3, 0.4, 0.3]), image(1500, 1000), text(), model(null)]);
    assert.deepEqual(plan.items.map((i) => i.type), ["model", "wall", "wall", "model"]);
    assert.deepEqual(plan.items.map((i) => i.index), [0, 1, 2, 3]);
    for (const item of plan.items) {
      assert.ok(Math.abs(item.x) <= plan.width / 2 && item.z < 0 && item.z > -plan.depth, JSON.stringify(item));
    }
    const walls = plan.items.filter((i) => i.type === "wall");
    assert.deepEqual(walls.map((i) => i.side).sort(), ["left", "right"]);
    assert.equal(plan.obstacles.length, 2);
  });

  it("never overlaps two exhibits, however many there are, and grows the room to fit", () => {
    const exhibits = Array.from({ length: 40 }, (_, i) =>
      i % 3 === 0 ? model([0.2 + (i % 5) * 0.3, 1, 0.4]) : i % 3 === 1 ? image(1000 + i * 20, 800) : text(),
    );
    const plan = planRoom(exhibits);
    const models = plan.items.filter((i) => i.type === "model").map(box);
    const left = plan.items.filter((i) => i.side === "left").map(box);
    const right = plan.items.filter((i) => i.side === "right").map(box);
    for (const group of [models, left, right]) {
      for (let a = 0; a < group.length; a++) {
        for (let b = a + 1; b < group.length; b++) assert.ok(!overlaps(group[a], group[b]), `${a} and ${b} overlap`);
      }
    }
    const deepest = Math.min(...plan.items.map((i) => box(i).minZ));
    assert.ok(deepest > -plan.depth, "the last exhibit is inside the back wall");
    assert.ok(plan.depth > planRoom(exhibits.slice(0, 4)).depth);
    // Walkways: plinths leave room to pass between them and the walls.
    for (const item of plan.items.filter((i) => i.type === "model")) {
      assert.ok(plan.width / 2 - item.width / 2 >= 1.5);
    }
  });

  it("keeps the walking order: no exhibit starts nearer the door than the one before", () => {
    const plan = planRoom([image(800, 600), model([0.5, 0.5, 0.5]), text(), image(900, 600), model([1, 1, 1])]);
    const starts = plan.items.map((i) => box(i).maxZ);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i] <= starts[i - 1] + 1e-9, `${i}: ${starts}`);
  });

  it("makes a sensible empty room and starts the visitor inside, facing in", () => {
    const plan = planRoom([]);
    assert.ok(plan.width >= 7 && plan.depth >= 8);
    assert.equal(plan.start.yaw, 0);
    assert.ok(plan.start.pitch <= 0 && plan.start.pitch > -0.3, "looks in, a little down");
    assert.ok(plan.start.z < 0 && plan.start.z > -plan.depth);
  });

  it("treats a model without levels of detail as a wall panel", () => {
    const plan = planRoom([{ kind: "model", lods: [], picture: { width: 1024, height: 768 } }]);
    assert.equal(plan.items[0].type, "wall");
  });
});

describe("walking", () => {
  const plan = planRoom([model([0.5, 0.5, 0.5]), image(800, 600)]);
  const plinth = plan.obstacles[0];

  it("walks forward along -z at yaw 0 and turns left with positive turn", () => {
    const pose = { ...plan.start, x: 2 }; // beside the first plinth
    const ahead = walk(pose, { forward: 1 }, 0.5, plan);
    assert.ok(ahead.z < pose.z && Math.abs(ahead.x - pose.x) < 1e-9);
    const turned = walk(pose, { turn: 1 }, 0.5, plan);
    assert.ok(turned.yaw > 0 && turned.x === pose.x && turned.z === pose.z);
    const left = walk({ ...pose, yaw: Math.PI / 2 }, { forward: 1 }, 0.5, plan);
    assert.ok(left.x < pose.x, "facing +yaw (left) walks towards -x");
  });

  it("stops at the walls", () => {
    let pose = { ...plan.start, x: 2 };
    for (let i = 0; i < 200; i++) pose = walk(pose, { forward: -1 }, 0.1, plan);
    assert.ok(Math.abs(pose.z - -WALKER_RADIUS) < 1e-9, `${pose.z}`);
    for (let i = 0; i < 200; i++) pose = walk(pose, { strafe: 1 }, 0.1, plan);
    assert.ok(Math.abs(pose.x - (plan.width / 2 - WALKER_RADIUS)) < 1e-9);
  });

  it("cannot walk through a plinth but slides along it", () => {
    const front = { x: 0.1, z: plinth.maxZ + 1 };
    const into = moveWithin(front, { x: 0.1, z: plinth.maxZ }, plan);
    assert.deepEqual(into, front, "straight into the plinth: stays");
    const diagonal = moveWithin(front, { x: 0.6, z: plinth.maxZ }, plan);
    assert.equal(diagonal.x, 0.6);
    assert.equal(diagonal.z, front.z, "the blocked axis is dropped, the free one kept");
    const beside = moveWithin({ x: plinth.maxX + 0.5, z: plinth.maxZ + 1 }, { x: plinth.maxX + 0.5, z: plinth.minZ - 1 }, plan);
    assert.equal(beside.z, plinth.minZ - 1, "walking past in the walkway is free");
  });

  it("never passes through a plinth, even in one long interval", () => {
    const front = { x: 0, z: plinth.maxZ + 0.5, yaw: 0, pitch: 0 };
    const after = walk(front, { forward: 1 }, 3, plan);
    assert.ok(after.z > plinth.maxZ, `${after.z} is past the plinth's front ${plinth.maxZ}`);
    const turned = walk(front, { turn: 1 }, 1, plan);
    assert.ok(Math.abs(turned.yaw - 1.6) < 1e-9, "turning keeps its speed over long intervals");
  });

  it("clamps looking up and down", () => {
    assert.equal(clampPitch(3), 0.6);
    assert.equal(clampPitch(-3), -0.6);
    assert.equal(clampPitch(0.2), 0.2);
  });

  it("blends poses the short way round, ending exactly at the target", () => {
    const a = { x: 0, z: 0, yaw: 3, pitch: 0 };
    const b = { x: 2, z: -2, yaw: -3, pitch: 0.2 };
    assert.deepEqual(blendPose(a, b, 0), a);
    const end = blendPose(a, b, 1);
    assert.ok(Math.abs(end.x - 2) < 1e-9 && Math.abs(Math.cos(end.yaw) - Math.cos(-3)) < 1e-9);
    const mid = blendPose(a, b, 0.5);
    assert.ok(Math.abs(mid.yaw) > 3, "turns through pi, not through 0");
  });
});

describe("what loads first and how fine", () => {
  const items = [
    { index: 0, x: 0, z: -10 },
    { index: 1, x: 0, z: -2 },
    { index: 2, x: 3, z: -5 },
  ];

  it("loads the nearest exhibits first, from wherever the visitor stands", () => {
    assert.deepEqual(loadOrder(items, { x: 0, z: 0 }), [1, 2, 0]);
    assert.deepEqual(loadOrder(items, { x: 0, z: -11 }), [0, 2, 1]);
  });

  it("chooses finer levels as the visitor comes nearer, never beyond the last", () => {
    const seen = [30, 10, 5, 2.5, 1.2, 0.5].map((d) => lodIndex(3, d, 0.6));
    assert.equal(seen[0], 0);
    assert.equal(seen.at(-1), 2);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1]);
    assert.equal(lodIndex(1, 0.1, 5), 0);
    assert.ok(lodIndex(3, 4, 1.8) > lodIndex(3, 4, 0.25), "bigger objects need detail sooner");
  });

  it("fetches the smallest level first, then the wanted one straight away", () => {
    assert.equal(nextLevel(new Set(), 2), 0);
    assert.equal(nextLevel(new Set([0]), 2), 2);
    assert.equal(nextLevel(new Set([0, 2]), 1), -1);
    assert.equal(nextLevel(new Set([0]), 0), -1);
  });

  it("shows the finest loaded level not above the wanted one", () => {
    assert.equal(shownLevel(new Set([0, 2]), 1), 0);
    assert.equal(shownLevel(new Set([0, 2]), 2), 2);
    assert.equal(shownLevel(new Set([2]), 0), 2, "better too fine than nothing");
    assert.equal(shownLevel(new Set(), 2), -1);
  });
});

describe("facing and going to exhibits", () => {
  const plan = planRoom([model([0.5, 0.5, 0.5]), image(800, 600), image(800, 600)]);

  it("finds the exhibit in front within reach, none when looking away", () => {
    for (const item of plan.items) {
      const spot = viewpointFor(item, plan);
      assert.equal(facingExhibit(spot, plan.items), item.index, `viewpoint of ${item.index}`);
      assert.equal(facingExhibit({ ...spot, yaw: spot.yaw + Math.PI }, plan.items) === item.index, false);
    }
    assert.equal(facingExhibit({ x: 0, z: -plan.depth + 0.5, yaw: Math.PI, pitch: 0 }, plan.items.slice(0, 1), 1), -1);
  });

  it("stands in free floor inside the room to look at an exhibit", () => {
    for (const item of plan.items) {
      const spot = viewpointFor(item, plan);
      assert.deepEqual(moveWithin(spot, spot, plan), { x: spot.x, z: spot.z });
      assert.ok(Math.abs(spot.yaw - yawTowards(spot.x, spot.z, item.x, item.z)) < 1e-9);
    }
  });
});
