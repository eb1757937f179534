import assert from "node:assert/strict";
import { test } from "node:test";
import { BACKOFF_MAX, backoffDelay, bars, fill, nextFollow, socketUrl, throttle, viewFor } from "../src/trip-state.js";

test("the socket follows the page's scheme and host", () => {
  assert.equal(socketUrl("/ws/trips/KT7M4Q", { href: "http://127.0.0.1:8000/trips/KT7M4Q" }), "ws://127.0.0.1:8000/ws/trips/KT7M4Q");
  assert.equal(socketUrl("/ws/trips/KT7M4Q", { href: "https://museum.example/trips/KT7M4Q?x=1" }), "wss://museum.example/ws/trips/KT7M4Q");
});

test("reconnection waits double up to the ceiling, jittered down by at most a quarter", () => {
  assert.equal(backoffDelay(0, () => 0), 1000);
  assert.equal(backoffDelay(1, () => 0), 2000);
  assert.equal(backoffDelay(3, () => 0), 8000);
  assert.equal(backoffDelay(30, () => 0), BACKOFF_MAX);
  assert.equal(backoffDelay(2, () => 0.999), Math.round(4000 * (1 - 0.25 * 0.999)));
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const delay = backoffDelay(attempt);
    assert.ok(delay >= 750 && delay <= BACKOFF_MAX, `${attempt}: ${delay}`);
  }
});

test("templates are filled and unknown placeholders stay", () => {
  assert.equal(fill("Stop {number} of {count}", { number: 2, count: 5 }), "Stop 2 of 5");
  assert.equal(fill("{missing} {count}", { count: 0 }), "{missing} 0");
  assert.equal(fill(undefined, {}), "");
});

test("a snapshot replaces the follow state; older moves are dropped", () => {
  const state = { type: "state", seq: 4, stop: 1, mode: "follow", view: {} };
  const now = nextFollow(null, state);
  assert.deepEqual(now, { seq: 4, stop: 1, mode: "follow", view: {} });
  assert.equal(nextFollow(now, { type: "move", seq: 4, stop: 0, mode: "follow" }), null);
  assert.equal(nextFollow(now, { type: "move", seq: 3, stop: 0, mode: "follow" }), null);
  const moved = nextFollow(now, { type: "move", seq: 5, stop: 2, mode: "explore", view: { camera: {} } });
  assert.deepEqual(moved, { seq: 5, stop: 2, mode: "explore", view: { camera: {} } });
  assert.deepEqual(nextFollow(moved, { type: "question", seq: 6 }), { ...moved, seq: 6 });
  assert.equal(nextFollow(moved, { type: "question", seq: 5 }), null);
  assert.equal(nextFollow(moved, { type: "results" }), null);
});

test("a stop takes only the view parts of its own media", () => {
  const view = {
    camera: { position: [0, 0, 1], asset: "a1" },
    region: { x: 0, y: 0, w: 10, h: 10, asset: "b2" },
    media: { time: 3, playing: true, asset: "a1" },
  };
  assert.deepEqual(Object.keys(viewFor(view, "a1")), ["camera", "media"]);
  assert.deepEqual(Object.keys(viewFor(view, "b2")), ["region"]);
  assert.deepEqual(viewFor({ camera: { position: [1, 2, 3] } }, "x"), { camera: { position: [1, 2, 3] } });
  assert.deepEqual(viewFor(undefined, "x"), {});
});

test("answers become bars with their share of the total", () => {
  assert.deepEqual(bars(["đồng", "gỗ"], [3, 1]), [
    { label: "đồng", count: 3, share: 0.75 },
    { label: "gỗ", count: 1, share: 0.25 },
  ]);
  assert.deepEqual(bars(["a", "b"], [0, 0]).map((bar) => bar.share), [0, 0]);
});

test("the teacher's view is throttled and the last position always arrives", () => {
  let now = 0;
  const timers = [];
  const sent = [];
  const send = throttle((value) => sent.push(value), 100, () => now, (fn, wait) => timers.push({ fn, at: now + wait }));
  send(1); // immediately
  now = 10;
  send(2);
  now = 20;
  send(3); // replaces 2, sent when the interval is over
  assert.deepEqual(sent, [1]);
  assert.equal(timers.length, 1);
  now = timers[0].at;
  timers[0].fn();
  assert.deepEqual(sent, [1, 3]);
  now = 500;
  send(4);
  assert.deepEqual(sent, [1, 3, 4]);
});
