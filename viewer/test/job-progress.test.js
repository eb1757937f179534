import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { attemptsText, badgeClass, isFinal, parseJobEvent, percentText } from "../src/job-progress.js";

describe("parseJobEvent", () => {
  it("reads a job change", () => {
    const update = parseJobEvent(
      JSON.stringify({
        id: "ab".repeat(16),
        state: "running",
        state_label: "Đang chạy",
        progress: 42,
        message: "step 3/20",
        attempts: 1,
        max_attempts: 3,
        cancel_requested: true,
      }),
    );
    assert.deepEqual(update, {
      id: "ab".repeat(16),
      state: "running",
      stateLabel: "Đang chạy",
      progress: 42,
      message: "step 3/20",
      attempts: 1,
      maxAttempts: 3,
      cancelRequested: true,
    });
  });

  it("refuses what is not a job change", () => {
    assert.equal(parseJobEvent("not json"), null);
    assert.equal(parseJobEvent("null"), null);
    assert.equal(parseJobEvent(JSON.stringify({ id: "x", state: "exploded" })), null);
    assert.equal(parseJobEvent(JSON.stringify({ state: "queued" })), null);
  });

  it("keeps progress within 0–100 and labels present", () => {
    assert.equal(parseJobEvent(JSON.stringify({ id: "x", state: "queued", progress: 250 })).progress, 100);
    assert.equal(parseJobEvent(JSON.stringify({ id: "x", state: "queued", progress: -3 })).progress, 0);
    assert.equal(parseJobEvent(JSON.stringify({ id: "x", state: "failed" })).stateLabel, "failed");
  });
});

describe("formatting", () => {
  it("writes percent, attempts and badge classes", () => {
    assert.equal(percentText(7), "7%");
    assert.equal(attemptsText({ attempts: 2, maxAttempts: 3 }), "2/3");
    assert.equal(badgeClass("succeeded"), "job-badge job-badge-succeeded");
  });

  it("knows the final states", () => {
    assert.ok(isFinal("succeeded") && isFinal("failed"));
    assert.ok(!isFinal("running") && !isFinal("queued"));
  });
});
