// The catalogue-filter island: enhances a server-rendered list that already
// works without script. All visible strings come from data-attributes so the
// server stays the single place where text is translated.

import { groupVisibility, statusText, visibleIndices } from "./filter.js";

const ITEM_SELECTOR = ".item";
const GROUP_SELECTOR = "section";
const ESCAPE_KEY = "Escape";

let islandCount = 0;

function itemText(item) {
  return item.dataset.search ?? item.textContent;
}

function createControls(host) {
  const doc = host.ownerDocument;
  const id = `catalog-filter-${++islandCount}`;
  const label = doc.createElement("label");
  label.htmlFor = id;
  label.textContent = host.dataset.label ?? "";
  const input = doc.createElement("input");
  Object.assign(input, { type: "search", id, autocomplete: "off", spellcheck: false });
  if (host.dataset.placeholder) input.placeholder = host.dataset.placeholder;
  const status = doc.createElement("p");
  status.className = "filter-status";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  host.replaceChildren(label, input, status);
  return { input, status };
}

/** Mount one island; returns false when its target is missing. */
export function mountCatalogFilter(host) {
  const target = host.ownerDocument.querySelector(host.dataset.target);
  if (!target || host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  host.classList.add("catalog-filter");

  const items = [...target.querySelectorAll(ITEM_SELECTOR)];
  const entries = items.map((item) => ({ text: itemText(item) }));
  const groups = [...target.querySelectorAll(GROUP_SELECTOR)];
  const groupIndices = groups.map((group) => items.flatMap((item, i) => (group.contains(item) ? [i] : [])));
  const { input, status } = createControls(host);
  if (target.id) input.setAttribute("aria-controls", target.id);

  const apply = () => {
    const visible = new Set(visibleIndices(entries, input.value));
    items.forEach((item, i) => { item.hidden = !visible.has(i); });
    groupVisibility(groupIndices, [...visible]).forEach((shown, g) => { groups[g].hidden = !shown; });
    status.textContent = statusText({
      shown: visible.size,
      total: items.length,
      countTemplate: host.dataset.countTemplate,
      emptyText: host.dataset.empty,
    });
  };

  input.addEventListener("input", apply);
  input.addEventListener("keydown", (event) => {
    if (event.key !== ESCAPE_KEY || input.value === "") return;
    event.preventDefault();
    input.value = "";
    apply();
  });
  apply();
  return true;
}
