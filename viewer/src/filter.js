// Pure catalogue-filter logic, kept free of the DOM so it can be unit-tested
// under plain Node.

import { foldVietnamese, matchesTokens, queryTokens } from "./fold.js";

const TEMPLATE_FIELD = /\{(shown|total)\}/g;

/** Indices of the items ({text}) whose text matches every word of the query. */
export function visibleIndices(items, query) {
  const tokens = queryTokens(query);
  const visible = [];
  items.forEach((item, index) => {
    if (matchesTokens(foldVietnamese(item.text), tokens)) visible.push(index);
  });
  return visible;
}

/**
 * For each group (an array of item indices), whether it should stay shown.
 * A group with no items at all is left shown: it was not emptied by the filter.
 */
export function groupVisibility(groups, visible) {
  const shown = new Set(visible);
  return groups.map(
    (indices) => indices.length === 0 || indices.some((index) => shown.has(index)),
  );
}

/** Status line text; every string comes from the server-translated page. */
export function statusText({ shown, total, countTemplate, emptyText }) {
  if (shown === 0 && emptyText) return emptyText;
  const values = { shown, total };
  return String(countTemplate ?? "").replace(TEMPLATE_FIELD, (_, key) => String(values[key]));
}
