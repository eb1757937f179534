// Pure helpers of the field-trip islands (trip.js for pupils, trip-teacher.js for the
// teacher): the socket address, the reconnection delays, which teacher moves still apply,
// and the answers as bars. No DOM here, so node --test checks them (test/trip-state.test.js).

export const BACKOFF_BASE = 1000; // ms before the first reconnection attempt
export const BACKOFF_MAX = 15000; // ms: never wait longer than this
export const VIEW_INTERVAL = 100; // ms between two view messages from the teacher (10 a second)
export const PING_INTERVAL = 25000; // ms: keeps school proxies from closing an idle socket

/** The WebSocket address of a trip path (``/ws/trips/KT7M4Q``) on this page's host. */
export function socketUrl(path, location) {
  const url = new URL(path, location.href);
  url.protocol = url.protocol.replace(/^http/, "ws"); // the secure page's socket is secure too
  return url.href;
}

/**
 * How long to wait before reconnection attempt ``attempt`` (0, 1, …): doubling from one
 * second up to fifteen, each delay spread by up to a quarter (``random`` in [0, 1)) so that
 * a class whose Wi-Fi came back does not reconnect in one burst.
 */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX, BACKOFF_BASE * 2 ** Math.max(0, attempt));
  return Math.round(base * (1 - 0.25 * random()));
}

/** Fills ``{name}`` placeholders of a translated template. */
export function fill(template, values) {
  return String(template ?? "").replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/**
 * The follow state after a server message, or null when the message changes nothing.
 * ``current`` is ``{seq, stop, mode, view}``; a ``state`` message replaces it whole; a
 * ``move`` or ``question`` older than what is shown (its ``seq`` not above) is dropped.
 */
export function nextFollow(current, message) {
  if (message.type === "state") {
    return { seq: message.seq, stop: message.stop, mode: message.mode, view: message.view ?? {} };
  }
  if (message.type === "move" && (current === null || message.seq > current.seq)) {
    return { seq: message.seq, stop: message.stop, mode: message.mode, view: message.view ?? {} };
  }
  if (message.type === "question" && current !== null && message.seq > current.seq) {
    return { ...current, seq: message.seq };
  }
  return null;
}

/** The parts of a view a stop showing media ``asset`` should take (the others are for another stop). */
export function viewFor(view, asset) {
  const parts = {};
  for (const name of ["camera", "region", "media"]) {
    const part = view?.[name];
    if (part && (!part.asset || part.asset === asset)) parts[name] = part;
  }
  return parts;
}

/** A choice question's answers as bars: ``[{label, count, share}]``, share in [0, 1]. */
export function bars(options, counts) {
  const total = counts.reduce((sum, count) => sum + count, 0);
  return options.map((label, index) => {
    const count = counts[index] ?? 0;
    return { label, count, share: total ? count / total : 0 };
  });
}

/**
 * Calls ``send`` at most once per ``interval`` ms with the latest value; a value that
 * arrives in between is sent when the interval is over (the last position always arrives).
 */
export function throttle(send, interval, clock = () => Date.now(), timer = setTimeout) {
  let last = -Infinity;
  let waiting = null;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    last = clock();
    const value = waiting;
    waiting = null;
    send(value);
  };
  return (value) => {
    waiting = value;
    const wait = last + interval - clock();
    if (wait <= 0 && !scheduled) flush();
    else if (!scheduled) {
      scheduled = true;
      timer(flush, wait);
    }
  };
}
