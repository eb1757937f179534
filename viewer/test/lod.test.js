// The 3D viewer's choices: smallest level first, the finest level a screen,
// device and connection deserve, the order of upgrades, and lengths and texts
// as people read them.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  LOW_MEMORY_PRIMITIVES,
  devicePixels,
  formatLength,
  metresPerUnit,
  orderLods,
  pickText,
  targetIndex,
  upgradeSequence,
} from "../src/lod.js";

// Budgets and sizes as the pipeline writes them for a dense textured scan.
const LODS = [
  { name: "high", src: "/m/high.glb", triangles: 1_000_000, points: 0, bytes: 9_800_000 },
  { name: "web", src: "/m/web.glb", triangles: 150_000, points: 0, bytes: 1_900_000 },
  { name: "thumb", src: "/m/thumb.glb", triangles: 20_000, points: 0, bytes: 310_000 },
  { name: "preview", src: "/m/preview.glb", triangles: 5_000, points: 0, bytes: 95_000 },
];
const names = (lods, indices) => indices.map((i) => lods[i].name);

describe("orderLods", () => {
  it("puts the smallest level first", () => {
    assert.deepEqual(
      orderLods(LODS).map((lod) => lod.name),
      ["preview", "thumb", "web", "high"],
    );
  });

  it("drops a level as small as one before it, keeping the fewer bytes", () => {
    // A 20,480-triangle scan: high and web are the same mesh (real pipeline output).
    const small = [
      { name: "high", src: "h", triangles: 20480, bytes: 83528 },
      { name: "web", src: "w", triangles: 20480, bytes: 83788 },
      { name: "thumb", src: "t", triangles: 20000, bytes: 82604 },
      { name: "preview", src: "p", triangles: 5000, bytes: 25168 },
    ];
    assert.deepEqual(
      orderLods(small).map((lod) => lod.name),
      ["preview", "thumb", "high"],
    );
  });

  it("orders point clouds by points and skips levels without a file or content", () => {
    const clouds = [
      { name: "a", src: "a", triangles: 0, points: 1_000_000, bytes: 9 },
      { name: "b", src: "b", triangles: 0, points: 30_000, bytes: 1 },
      { name: "c", src: "", triangles: 10, bytes: 1 },
      { name: "d", src: "d", triangles: 0, points: 0, bytes: 1 },
    ];
    assert.deepEqual(
      orderLods(clouds).map((lod) => lod.name),
      ["b", "a"],
    );
    assert.deepEqual(orderLods(undefined), []);
  });
});

describe("targetIndex", () => {
  const ordered = orderLods(LODS);
  const target = (device) => ordered[targetIndex(ordered, device)].name;

  it("counts device pixels with the pixel ratio capped at 2", () => {
    assert.equal(devicePixels({ width: 100, height: 50, devicePixelRatio: 1 }), 5000);
    assert.equal(devicePixels({ width: 100, height: 50, devicePixelRatio: 3 }), 20000);
    assert.equal(devicePixels({ width: 100, height: 50, devicePixelRatio: 0.5 }), 5000);
  });

  it("grows with the screen", () => {
    assert.equal(target({ width: 320, height: 240, devicePixelRatio: 1 }), "thumb");
    assert.equal(target({ width: 1000, height: 750, devicePixelRatio: 1 }), "web");
    assert.equal(target({ width: 390, height: 293, devicePixelRatio: 3 }), "web");
    assert.equal(target({ width: 1280, height: 960, devicePixelRatio: 2 }), "high");
  });

  it("never goes below the smallest level", () => {
    assert.equal(target({ width: 10, height: 10 }), "preview");
    assert.equal(targetIndex([], { width: 1000, height: 1000 }), -1);
  });

  it("keeps to the smallest level when data is to be saved or the line is slow", () => {
    const big = { width: 2560, height: 1440, devicePixelRatio: 2 };
    assert.equal(target({ ...big, saveData: true }), "preview");
    assert.equal(target({ ...big, effectiveType: "2g" }), "preview");
    assert.equal(target({ ...big, effectiveType: "slow-2g" }), "preview");
    assert.equal(target({ ...big, effectiveType: "3g" }), "web"); // 9.8 MB is over the 3G cap
    assert.equal(target({ ...big, effectiveType: "4g" }), "high");
  });

  it("spares devices with little memory the largest meshes", () => {
    const big = { width: 2560, height: 1440, devicePixelRatio: 2 };
    assert.ok(ordered[3].triangles > LOW_MEMORY_PRIMITIVES);
    assert.equal(target({ ...big, deviceMemory: 2 }), "web");
    assert.equal(target({ ...big, deviceMemory: 8 }), "high");
  });

  it("gives point clouds about one point per pixel", () => {
    const clouds = orderLods([
      { name: "p30k", src: "a", triangles: 0, points: 30_000, bytes: 400_000 },
      { name: "p150k", src: "b", triangles: 0, points: 150_000, bytes: 2_000_000 },
      { name: "p1m", src: "c", triangles: 0, points: 1_000_000, bytes: 14_000_000 },
    ]);
    const device = { width: 800, height: 600, devicePixelRatio: 1 }; // 480k pixels
    assert.equal(clouds[targetIndex(clouds, device)].name, "p150k");
  });
});

describe("upgradeSequence", () => {
  const ordered = orderLods(LODS);

  it("starts with the smallest level and ends with the target", () => {
    assert.deepEqual(names(ordered, upgradeSequence(ordered, 2)), ["preview", "thumb", "web"]);
    assert.deepEqual(names(ordered, upgradeSequence(ordered, 0)), ["preview"]);
  });

  it("skips intermediates too large to arrive well before the target", () => {
    // web (1.9 MB) is a fifth of high (9.8 MB): worth showing; thumb too.
    assert.deepEqual(names(ordered, upgradeSequence(ordered, 3)), ["preview", "thumb", "web", "high"]);
    const close = orderLods([
      { name: "preview", src: "p", triangles: 5000, bytes: 25_000 },
      { name: "thumb", src: "t", triangles: 20000, bytes: 82_000 },
      { name: "high", src: "h", triangles: 20480, bytes: 84_000 },
    ]);
    assert.deepEqual(names(close, upgradeSequence(close, 2)), ["preview", "high"]);
  });

  it("continues from the level shown, and does nothing when it is already there", () => {
    assert.deepEqual(names(ordered, upgradeSequence(ordered, 3, 2)), ["high"]);
    assert.deepEqual(names(ordered, upgradeSequence(ordered, 3, 0)), ["thumb", "web", "high"]);
    assert.deepEqual(upgradeSequence(ordered, 2, 2), []);
    assert.deepEqual(upgradeSequence(ordered, 1, 2), []);
    assert.deepEqual(upgradeSequence(ordered, 9), []);
  });
});

describe("lengths and texts", () => {
  it("writes lengths in the unit people would choose, in the page's number format", () => {
    assert.equal(formatLength(0.00853, "en"), "8.5 mm");
    assert.equal(formatLength(0.0432, "en"), "43 mm");
    assert.equal(formatLength(0.2121, "vi"), "21,2 cm");
    assert.equal(formatLength(0.2121, "en"), "21.2 cm");
    assert.equal(formatLength(1.3512, "en"), "1.35 m");
  });

  it("takes the scale from the recorded size", () => {
    const size = { x: 0.3, y: 0.2, z: 0.1 };
    assert.ok(Math.abs(metresPerUnit({ width: 300, height: 200, depth: 100 }, size) - 1) < 1e-9);
    // A model whose units are millimetres: a thousandth of a metre each.
    assert.ok(Math.abs(metresPerUnit({ width: 300 }, { x: 300 }) - 0.001) < 1e-12);
    assert.equal(metresPerUnit(null, size), 1);
    assert.equal(metresPerUnit({ width: 300 }, { x: 0 }), 1);
  });

  it("picks the page's language, then Vietnamese, then any", () => {
    assert.deepEqual(pickText({ vi: "Đỉnh", en: "Top" }, "en"), { text: "Top", lang: "en" });
    assert.deepEqual(pickText({ vi: "Đỉnh" }, "en"), { text: "Đỉnh", lang: "vi" });
    assert.deepEqual(pickText({ rad: "Kŏng" }, "en"), { text: "Kŏng", lang: "rad" });
    assert.deepEqual(pickText({}, "en"), { text: "", lang: "en" });
  });
});
