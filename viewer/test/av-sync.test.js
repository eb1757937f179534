import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clock, cueIndexAt, timeAt, waveformBars } from "../src/av-sync.js";

const CUES = [
  { start: 0.5, end: 2.0 },
  { start: 2.0, end: 4.0 },
  { start: 6.0, end: 9.0 },
  { start: 7.0, end: 8.0 }, // overlaps the one before: the newer line wins
];

describe("transcript sync", () => {
  it("finds the cue being spoken, and none between cues", () => {
    assert.equal(cueIndexAt(CUES, 0), -1); // before the first
    assert.equal(cueIndexAt(CUES, 0.5), 0); // a cue starts on its start
    assert.equal(cueIndexAt(CUES, 1.99), 0);
    assert.equal(cueIndexAt(CUES, 2.0), 1); // ... and ends just before its end
    assert.equal(cueIndexAt(CUES, 5.0), -1); // the gap
    assert.equal(cueIndexAt(CUES, 6.5), 2);
    assert.equal(cueIndexAt(CUES, 7.5), 3);
    assert.equal(cueIndexAt(CUES, 8.5), 2); // the longer cue is still on
    assert.equal(cueIndexAt(CUES, 9.0), -1);
    assert.equal(cueIndexAt([], 3), -1);
  });

  it("writes times as a player does", () => {
    assert.equal(clock(0), "0:00");
    assert.equal(clock(65.9), "1:05");
    assert.equal(clock(3723), "1:02:03");
    assert.equal(clock(-3), "0:00");
  });
});

describe("waveform", () => {
  const WAVEFORM = { version: 2, bits: 8, data: [-64, 64, -128, 127, 0, 0, -32, 96] };

  it("keeps the widest swing of each bar's pairs", () => {
    assert.deepEqual(waveformBars(WAVEFORM, 2), [
      { low: -1, high: 127 / 128 },
      { low: -0.25, high: 0.75 },
    ]);
    assert.deepEqual(waveformBars(WAVEFORM, 4).map((b) => b.high), [0.5, 127 / 128, 0, 0.75]);
  });

  it("stretches few pairs over many bars and ignores empty data", () => {
    assert.equal(waveformBars(WAVEFORM, 10).length, 10);
    assert.deepEqual(waveformBars({ data: [] }, 5), []);
    assert.deepEqual(waveformBars(undefined, 5), []);
  });

  it("turns a click into a time", () => {
    assert.equal(timeAt(50, 200, 60), 15);
    assert.equal(timeAt(250, 200, 60), 60);
    assert.equal(timeAt(10, 0, 60), 0);
  });
});
