// The instant-results island of the search page: as the visitor types, the first
// matching records come from /api/v1/search (the server folds diacritics, so
// "cong chieng" finds "Cồng chiêng") into a listbox under the field, following the
// WAI-ARIA combobox pattern. Requests wait for a pause in typing, and a newer one
// cancels the one in flight, so a slow answer never overwrites a fresh one. Enter
// on a chosen result opens it; otherwise the form submits as it does without script.
//
// Host markup (server/templates/search.html): a <div data-island="search-suggest">
// inside the search form, with data-input (the field), data-endpoint, data-item-url
// ("__ID__" for the record id), data-lang, data-kind-names (JSON) and the texts
// data-label, data-hint, data-count-one, data-count-other, data-count-more,
// data-none, data-error.

import { NONE, countMessage, isQueryable, nextIndex, searchUrl, toSuggestions } from "./suggest.js";

const DEBOUNCE_MS = 200;
const NAVIGATION_KEYS = new Set(["ArrowDown", "ArrowUp", "Home", "End"]);

let islandCount = 0;

function parseJson(text, fallback) {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

function createParts(host, input) {
  const doc = host.ownerDocument;
  const id = `search-suggest-${++islandCount}`;
  const hint = doc.createElement("p");
  hint.id = `${id}-hint`;
  hint.className = "visually-hidden";
  hint.textContent = host.dataset.hint ?? "";
  const list = doc.createElement("ul");
  list.id = `${id}-list`;
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", host.dataset.label ?? "");
  list.hidden = true;
  const status = doc.createElement("p");
  status.className = "suggest-status";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  host.replaceChildren(hint, list, status);
  Object.entries({
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": list.id,
    "aria-describedby": hint.id,
    autocomplete: "off",
  }).forEach(([name, value]) => input.setAttribute(name, value));
  return { list, status, optionId: (index) => `${id}-option-${index}` };
}

function optionElement(doc, suggestion, id) {
  const option = doc.createElement("li");
  option.id = id;
  option.setAttribute("role", "option");
  option.setAttribute("aria-selected", "false");
  option.dataset.href = suggestion.href;
  const title = doc.createElement("span");
  title.className = "suggestion-title";
  title.textContent = suggestion.title;
  option.append(title);
  if (suggestion.kind) {
    const kind = doc.createElement("span");
    kind.className = "suggestion-kind";
    kind.textContent = suggestion.kind;
    option.append(kind);
  }
  return option;
}

/** Mount one island; returns false when its field is missing or it is mounted already. */
export function mountSearchSuggest(host) {
  const doc = host.ownerDocument;
  const input = doc.querySelector(host.dataset.input);
  if (!input || host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  const { list, status, optionId } = createParts(host, input);
  const settings = {
    lang: host.dataset.lang || doc.documentElement.lang || "vi",
    itemUrl: host.dataset.itemUrl ?? "/items/__ID__",
    kindNames: parseJson(host.dataset.kindNames ?? "{}", {}),
  };
  const texts = {
    none: host.dataset.none,
    one: host.dataset.countOne,
    other: host.dataset.countOther,
    more: host.dataset.countMore,
  };
  let options = [];
  let active = NONE;
  let timer = 0;
  let inFlight = null;

  const setActive = (index) => {
    active = index;
    options.forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
    if (index === NONE) {
      input.removeAttribute("aria-activedescendant");
      return;
    }
    input.setAttribute("aria-activedescendant", options[index].id);
    options[index].scrollIntoView?.({ block: "nearest" });
  };

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    setActive(NONE);
  };

  const show = (suggestions, total, query) => {
    options = suggestions.map((s, i) => optionElement(doc, s, optionId(i)));
    list.replaceChildren(...options);
    active = NONE;
    input.removeAttribute("aria-activedescendant");
    list.hidden = options.length === 0;
    input.setAttribute("aria-expanded", String(options.length > 0));
    status.textContent = countMessage({ shown: options.length, total, query }, texts);
  };

  const request = async (query) => {
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    try {
      const response = await fetch(searchUrl(host.dataset.endpoint, query), {
        headers: { accept: "application/json" },
        signal: controller.signal,
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const payload = await response.json();
      if (controller.signal.aborted) return;
      show(toSuggestions(payload, settings), Number(payload.total) || 0, query);
    } catch (error) {
      if (controller.signal.aborted) return;
      close();
      status.textContent = host.dataset.error ?? "";
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    inFlight?.abort(); // its answer would be for text no longer in the field
    const query = input.value;
    if (!isQueryable(query)) {
      list.replaceChildren();
      options = [];
      close();
      status.textContent = "";
      return;
    }
    timer = setTimeout(() => request(query), DEBOUNCE_MS);
  };

  const open = (index) => {
    const href = options[index]?.dataset.href;
    if (href) doc.defaultView.location.assign(href);
  };

  input.addEventListener("input", (event) => {
    if (!event.isComposing) schedule();
  });
  input.addEventListener("compositionend", schedule);
  input.addEventListener("keydown", (event) => {
    if (NAVIGATION_KEYS.has(event.key) && options.length) {
      if ((event.key === "Home" || event.key === "End") && list.hidden) return;
      event.preventDefault();
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      setActive(nextIndex(active, event.key, options.length));
    } else if (event.key === "Enter" && active !== NONE && !list.hidden) {
      event.preventDefault(); // open the chosen record instead of submitting the form
      open(active);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", () => {
    // Let a click on an option land before the list goes away.
    setTimeout(() => {
      if (doc.activeElement !== input) close();
    }, 150);
  });
  list.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus in the field
  list.addEventListener("click", (event) => {
    const option = event.target.closest("[role=option]");
    if (option) open(options.indexOf(option));
  });
  return true;
}
