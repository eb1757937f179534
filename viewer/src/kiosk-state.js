// The kiosk's decisions, without the DOM: its settings, when a visitor has
// left, what a swipe means, which stops a search finds, and what a new visitor
// starts from. kiosk.js applies them; node's test runner checks them.

import { foldVietnamese, matchesTokens, queryTokens } from "./fold.js";

export const DEFAULT_IDLE_SECONDS = 90;
export const DEFAULT_HEARTBEAT_SECONDS = 60;
const MIN_SECONDS = 1;
const MAX_SECONDS = 24 * 60 * 60;
// A swipe: mostly sideways, far enough, quick enough.
export const SWIPE_DISTANCE = 80; // CSS pixels
export const SWIPE_TIME = 800; // milliseconds
const SWIPE_SLOPE = 1.5; // horizontal travel at least this many times the vertical

function seconds(value, fallback) {
  const number = Number(value);
  if (value === null || value === undefined || value === "" || !Number.isFinite(number)) return fallback;
  return Math.min(MAX_SECONDS, Math.max(MIN_SECONDS, number));
}

/**
 * The kiosk's settings: the page's data-attributes, where ``?idle=`` and
 * ``?heartbeat=`` (seconds) override the idle time and the heartbeat period.
 */
export function kioskConfig(dataset, search = "") {
  const query = new URLSearchParams(search);
  const languages = String(dataset.languages || "vi en").split(/\s+/).filter(Boolean);
  return {
    exhibition: dataset.exhibition ?? "",
    scope: dataset.scope ?? "",
    worker: dataset.worker ?? "",
    heartbeat: dataset.heartbeat ?? "",
    version: dataset.version ?? "",
    appVersion: dataset.appVersion ?? "",
    languages,
    defaultLanguage: languages.includes(dataset.defaultLang) ? dataset.defaultLang : languages[0],
    idleSeconds: seconds(query.get("idle"), seconds(dataset.idle, DEFAULT_IDLE_SECONDS)),
    heartbeatSeconds: seconds(
      query.get("heartbeat"),
      seconds(dataset.heartbeatSeconds, DEFAULT_HEARTBEAT_SECONDS),
    ),
  };
}

/** What the next visitor finds: the default language, the first stop, nothing open. */
export function freshState(config) {
  return { screen: "attract", lang: config.defaultLanguage, index: 0, query: "", searchOpen: false };
}

/** Whether the visitor has gone: no touch for ``idleSeconds`` and nothing playing. */
export function isIdle(now, lastActivity, idleSeconds, playing = false) {
  return !playing && now - lastActivity >= idleSeconds * 1000;
}

/** 1 (next stop), -1 (previous) or 0 for a pointer that went from ``start`` to ``end``. */
export function swipeDirection(start, end) {
  const dx = end.x - start.x;
  const dy = end.y - start.y;
  const quick = end.time - start.time <= SWIPE_TIME;
  if (!quick || Math.abs(dx) < SWIPE_DISTANCE || Math.abs(dx) < Math.abs(dy) * SWIPE_SLOPE) return 0;
  return dx < 0 ? 1 : -1; // a swipe to the left brings the next stop in from the right
}

/** ``index`` moved by ``step`` and kept within the ``count`` stops. */
export function stepIndex(index, step, count) {
  if (count <= 0) return 0;
  return Math.min(count - 1, Math.max(0, index + step));
}

/** The stops whose text holds every word of ``query`` (accents and case ignored). */
export function searchStops(texts, query) {
  const tokens = queryTokens(query);
  if (!tokens.length) return [];
  const folded = texts.map((text) => foldVietnamese(text));
  return folded.flatMap((text, index) => (matchesTokens(text, tokens) ? [index] : []));
}

/** ``template`` with ``{name}`` replaced by ``values.name``. */
export function fill(template, values) {
  return String(template ?? "").replace(/\{(\w+)\}/g, (match, key) => String(values[key] ?? match));
}

/** The kiosk page of another exhibition, keeping the test settings of the query. */
export function exhibitionPath(scope, exhibitionId) {
  return scope.replace(/[^/]*$/, encodeURIComponent(exhibitionId));
}

/** Kiosk id and token from the setup address, and the query without them. */
export function takeCredentials(search) {
  const query = new URLSearchParams(search);
  const id = query.get("kiosk");
  const token = query.get("token");
  query.delete("kiosk");
  query.delete("token");
  const rest = query.toString();
  return { credentials: id && token ? { id, token } : null, search: rest ? `?${rest}` : "" };
}
