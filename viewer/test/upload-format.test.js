import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  RETRY_DELAYS,
  errorMessage,
  fill,
  formatBytes,
  percent,
  settled,
  shouldRetry,
  speedMeter,
  uploadMetadata,
} from "../src/upload-format.js";
import { sha256OfFile } from "../src/uploader.js";

describe("upload figures", () => {
  it("writes sizes in steps of 1024 with the page's number format", () => {
    assert.equal(formatBytes(0, "en"), "0 B");
    assert.equal(formatBytes(1023, "en"), "1,023 B");
    assert.equal(formatBytes(1536, "en"), "1.5 KB");
    assert.equal(formatBytes(1536, "vi"), "1,5 KB");
    assert.equal(formatBytes(25.3 * 1024 ** 2, "en"), "25.3 MB");
    assert.equal(formatBytes(20 * 1024 ** 3, "vi"), "20 GB"); // MUSEUM_MAX_UPLOAD_SIZE=20G
    assert.equal(formatBytes(123.4 * 1024 ** 3, "en"), "123 GB");
    assert.equal(formatBytes(-5, "en"), "0 B");
  });

  it("floors percentages and caps them at 100", () => {
    assert.equal(percent(0, 0), 0);
    assert.equal(percent(1, 3), 33);
    assert.equal(percent(999, 1000), 99);
    assert.equal(percent(1200, 1000), 100);
  });

  it("fills server-translated templates and leaves unknown names", () => {
    assert.equal(fill("{done} / {total} ({percent}%)", { done: "1 MB", total: "2 MB", percent: 50 }), "1 MB / 2 MB (50%)");
    assert.equal(fill("{missing} x", {}), "{missing} x");
    assert.equal(fill(undefined, {}), "");
  });

  it("averages speed over its window and starts again after a restart", () => {
    const meter = speedMeter(5000);
    assert.equal(meter.rate(), 0);
    meter.add(0, 0);
    meter.add(1000, 1_000_000);
    assert.equal(meter.rate(), 1_000_000);
    for (let t = 2000; t <= 20000; t += 1000) meter.add(t, t * 2000 - 1_000_000);
    assert.equal(Math.round(meter.rate()), 2_000_000); // the early, slower second has left the window
    meter.add(21000, 10); // resumed from a lower offset
    meter.add(22000, 500_010);
    assert.equal(meter.rate(), 500_000);
  });
});

describe("upload protocol choices", () => {
  it("backs off, and retries network drops, server errors, conflicts and locks only", () => {
    assert.equal(RETRY_DELAYS[0], 0);
    for (let i = 1; i < RETRY_DELAYS.length; i++) assert.ok(RETRY_DELAYS[i] >= RETRY_DELAYS[i - 1]);
    assert.ok(RETRY_DELAYS.reduce((a, b) => a + b) >= 5 * 60 * 1000, "rides out a few minutes' outage");
    for (const status of [0, 500, 502, 503, 409, 423]) assert.equal(shouldRetry(status), true, status);
    for (const status of [400, 401, 403, 404, 410, 412, 413, 415, 460]) assert.equal(shouldRetry(status), false, status);
  });

  it("sends the name, type and digest, and the record and kind when chosen", () => {
    const file = { name: "Trống đồng.glb", type: "model/gltf-binary" };
    assert.deepEqual(uploadMetadata(file, "ab".repeat(32)), {
      filename: "Trống đồng.glb",
      filetype: "model/gltf-binary",
      sha256: "ab".repeat(32),
    });
    assert.deepEqual(uploadMetadata({ name: "a.jpg", type: "" }, "cd", { record: " DL-ICH-01 ", kind: "image" }), {
      filename: "a.jpg",
      filetype: "",
      sha256: "cd",
      record: "DL-ICH-01",
      kind: "image",
    });
  });

  it("reads the museum's error body, and nothing from other bodies", () => {
    assert.equal(errorMessage('{"error": {"status": 460, "message": "Tệp bị hỏng"}}'), "Tệp bị hỏng");
    assert.equal(errorMessage("<html>"), "");
    assert.equal(errorMessage(""), "");
  });

  it("stops polling once the upload failed or its job ended", () => {
    assert.equal(settled(null), false);
    assert.equal(settled({ state: "verifying" }), false);
    assert.equal(settled({ state: "failed" }), true);
    assert.equal(settled({ state: "complete", job: null }), true);
    assert.equal(settled({ state: "complete", job: { state: "running" } }), false);
    assert.equal(settled({ state: "complete", job: { state: "succeeded" } }), true);
  });
});

describe("the file's SHA-256", () => {
  it("matches node's digest across several slices", async () => {
    const bytes = new Uint8Array(20 * 1024 * 1024 + 17).map((_, i) => (i * 31) % 251);
    const seen = [];
    const digest = await sha256OfFile(new Blob([bytes]), (done) => seen.push(done));
    assert.equal(digest, createHash("sha256").update(bytes).digest("hex"));
    assert.deepEqual(seen, [8 * 1024 * 1024, 16 * 1024 * 1024, bytes.length]);
  });

  it("hashes an empty file", async () => {
    assert.equal(await sha256OfFile(new Blob([])), createHash("sha256").digest("hex"));
  });
});
