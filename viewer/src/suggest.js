// Pure helpers of the instant-results island (search-suggest.js): when to ask the
// JSON API, what to ask, how its answer becomes a list of choices, how the arrow
// keys move through them and what the live region says. No DOM and no fetch here,
// so node's test runner covers them.

import { foldVietnamese } from "./fold.js";

// Fewer folded letters than this match too much to be useful ("c" is in every title).
export const MIN_QUERY_LETTERS = 2;
export const RESULT_LIMIT = 8;
export const NONE = -1; // no option is active
const TEMPLATE_FIELD = /\{(\w+)\}/g;

/** True when the typed text is worth a request: at least two letters once folded. */
export function isQueryable(text) {
  return foldVietnamese(text).replace(/[^\p{L}\p{N}]/gu, "").length >= MIN_QUERY_LETTERS;
}

/** The API address for the typed text; the server folds diacritics, so it is sent as typed. */
export function searchUrl(endpoint, text, limit = RESULT_LIMIT) {
  const params = new URLSearchParams({ q: String(text).trim(), limit: String(limit) });
  return `${endpoint}?${params}`;
}

/** A language map's value in the page's language, else Vietnamese, else any. */
export function pick(map, lang) {
  if (!map || typeof map !== "object") return "";
  return map[lang] || map.vi || Object.values(map).find(Boolean) || "";
}

/**
 * The choices from an /api/v1/search answer: { id, title, kind, href } each,
 * href from the server's item address with "__ID__" standing for the record id.
 */
export function toSuggestions(payload, { lang, itemUrl, kindNames = {} }) {
  const items = Array.isArray(payload?.items) ? payload.items : [];
  return items
    .filter((item) => typeof item?.id === "string" && item.id !== "")
    .map((item) => ({
      id: item.id,
      title: pick(item.title, lang) || item.id,
      kind: kindNames[item.kind] ?? "",
      href: itemUrl.replace("__ID__", encodeURIComponent(item.id)),
    }));
}

/**
 * The option made active by a key: ArrowDown and ArrowUp step and wrap round,
 * Home and End jump; other keys leave it. NONE when there are no options.
 */
export function nextIndex(current, key, count) {
  if (count <= 0) return NONE;
  switch (key) {
    case "ArrowDown":
      return current < 0 || current >= count - 1 ? 0 : current + 1;
    case "ArrowUp":
      return current <= 0 ? count - 1 : current - 1;
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return current;
  }
}

/** A server-translated template with {name} fields filled in. */
export function fillTemplate(template, values) {
  return String(template ?? "").replace(TEMPLATE_FIELD, (field, name) =>
    name in values ? String(values[name]) : field,
  );
}

/**
 * What the live region says about an answer: none, one, several, or the first
 * few of more. `texts` holds the page's templates: none, one, other, more.
 */
export function countMessage({ shown, total, query }, texts) {
  const values = { count: shown, total, query: String(query).trim() };
  if (shown === 0) return fillTemplate(texts.none, values);
  if (total > shown) return fillTemplate(texts.more, values);
  return fillTemplate(shown === 1 ? texts.one : texts.other, values);
}
