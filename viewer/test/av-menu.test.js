import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AUTO, OFF, initialTrack, levelName, levelOptions, trackOptions } from "../src/av-menu.js";

// As hls.js lists them for a 960x540 source: playlist order, not size order.
const LEVELS = [
  { width: 854, height: 480, bitrate: 1_600_000 },
  { width: 960, height: 540, bitrate: 2_100_000 },
  { width: 640, height: 360, bitrate: 950_000 },
];

describe("quality menu", () => {
  it("names a rung by its short side, so portrait video reads the same", () => {
    assert.equal(levelName({ width: 1280, height: 720 }), "720p");
    assert.equal(levelName({ width: 1080, height: 1920 }), "1080p");
    assert.equal(levelName({ bitrate: 128_000 }), "128 kbit/s");
    assert.equal(levelName({}), "");
  });

  it("offers automatic first, then the sharpest down, each with its hls.js index", () => {
    assert.deepEqual(levelOptions(LEVELS, "Tự động"), [
      { value: AUTO, label: "Tự động" },
      { value: 1, label: "540p" },
      { value: 0, label: "480p" },
      { value: 2, label: "360p" },
    ]);
  });

  it("tells two rungs of one size apart by bit rate", () => {
    const options = levelOptions(
      [{ width: 640, height: 360, bitrate: 500_000 }, { width: 640, height: 360, bitrate: 900_000 }],
      "Auto",
    );
    assert.deepEqual(options.map((o) => o.label), ["Auto", "360p · 900 kbit/s", "360p · 500 kbit/s"]);
    assert.deepEqual(options.map((o) => o.value), [AUTO, 1, 0]);
  });

  it("gives no menu for a single rendition (an audio item)", () => {
    assert.deepEqual(levelOptions([{ bitrate: 130_000 }], "Auto"), []);
    assert.deepEqual(levelOptions([], "Auto"), []);
    assert.deepEqual(levelOptions(undefined, "Auto"), []);
  });
});

describe("captions menu", () => {
  const TRACKS = [
    { name: "Tiếng Việt", lang: "vi", default: true },
    { name: "", lang: "en", default: false },
  ];

  it("offers off first, then each track by name (or language)", () => {
    assert.deepEqual(trackOptions(TRACKS, "Tắt"), [
      { value: OFF, label: "Tắt" },
      { value: 0, label: "Tiếng Việt" },
      { value: 1, label: "en" },
    ]);
    assert.deepEqual(trackOptions([], "Off"), []);
  });

  it("starts with the page's language, else the playlist's default, else none", () => {
    assert.equal(initialTrack(TRACKS, "en"), 1);
    assert.equal(initialTrack(TRACKS, "en-GB"), 1);
    assert.equal(initialTrack(TRACKS, "vi"), 0);
    assert.equal(initialTrack(TRACKS, "ede"), 0); // no Êđê track: the default one
    assert.equal(initialTrack([{ name: "x", lang: "fr", default: false }], "vi"), OFF);
    assert.equal(initialTrack([], "vi"), OFF);
  });
});
