// Pure helpers of the uploader island (uploader.js): sizes, speed, percentages,
// the retry schedule and message templates. No DOM, so node's test runner covers them.

// Seconds between tus-js-client's attempts after a failed request (a network drop,
// a restarting server): quick at first, then backing off to a minute.
export const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000, 60000, 60000, 60000, 60000];
// Bytes per PATCH request: each is resumable on its own, and a stalled one loses little.
export const DEFAULT_CHUNK_SIZE = 50 * 1024 * 1024;
// Bytes read from the file at a time while computing its SHA-256.
export const HASH_SLICE = 8 * 1024 * 1024;
// The speed shown is the average over this many milliseconds.
export const SPEED_WINDOW_MS = 5000;

// Steps of 1024, named as the file managers staff use name them (and as the MUSEUM_*
// size settings count: 20G is 20 × 1024³ bytes).
const UNITS = ["B", "KB", "MB", "GB", "TB"];
const STEP = 1024;

/** "1,5 MB" (vi) / "1.5 MB" (en): steps of 1024, at most one decimal. */
export function formatBytes(bytes, lang = "en") {
  let value = Math.max(0, Number(bytes) || 0);
  let unit = 0;
  while (value >= STEP && unit < UNITS.length - 1) {
    value /= STEP;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
  return `${number} ${UNITS[unit]}`;
}

/** Whole percent of ``done`` in ``total`` (0 for an empty total), never above 100. */
export function percent(done, total) {
  if (!total) return 0;
  return Math.min(100, Math.floor((100 * done) / total));
}

/** Replace ``{name}`` in a server-translated template; unknown names stay as they are. */
export function fill(template, values) {
  return String(template ?? "").replace(/\{(\w+)\}/g, (match, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : match,
  );
}

/**
 * Bytes per second over the last ``windowMs``: feed it (time in ms, bytes so far).
 * A restart from a lower byte count (a resumed upload) starts the window again.
 */
export function speedMeter(windowMs = SPEED_WINDOW_MS) {
  let samples = [];
  return {
    add(time, bytes) {
      if (samples.length && bytes < samples[samples.length - 1].bytes) samples = [];
      samples.push({ time, bytes });
      while (samples.length > 2 && time - samples[1].time >= windowMs) samples.shift();
    },
    rate() {
      if (samples.length < 2) return 0;
      const first = samples[0];
      const last = samples[samples.length - 1];
      const seconds = (last.time - first.time) / 1000;
      return seconds > 0 ? (last.bytes - first.bytes) / seconds : 0;
    },
    reset() {
      samples = [];
    },
  };
}

/** The tus metadata the museum needs: file name, type, whole-file SHA-256, options. */
export function uploadMetadata(file, sha256, { record = "", kind = "" } = {}) {
  const metadata = { filename: file.name, filetype: file.type || "", sha256 };
  if (record.trim()) metadata.record = record.trim();
  if (kind) metadata.kind = kind;
  return metadata;
}

/** Whether a failed request is worth another attempt: no answer at all, a server error,
 *  a conflict (409: resume from the server's offset) or a lock (423). Unlike
 *  tus-js-client's default, being offline does not stop the retries. */
export function shouldRetry(status) {
  return !status || status >= 500 || status === 409 || status === 423;
}

/** The message of the museum's JSON error body, or "" when the body is something else. */
export function errorMessage(body) {
  try {
    return JSON.parse(body)?.error?.message ?? "";
  } catch {
    return "";
  }
}

/** Whether polling the upload's status can stop: it failed, or its job (if any) ended. */
export function settled(status) {
  if (!status) return false;
  if (status.state === "failed" || status.state === "terminated") return true;
  if (status.state !== "complete") return false;
  return !status.job || ["succeeded", "failed"].includes(status.job.state);
}
