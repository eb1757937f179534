// Entry point: mounts every progressive-enhancement island on the page.
//
// Small islands are in this bundle. A viewer that brings a large library
// (hls.js, three.js, OpenSeadragon, Leaflet) is a bundle of its own that only
// pages showing such media fetch: the server writes its hashed address into
// the host's data-module, and the module exports mount(host).

import { mountCatalogFilter } from "./island.js";
import { mountCopyText } from "./copy-text.js";
import { mountSearchSuggest } from "./search-suggest.js";

const ISLANDS = {
  "catalog-filter": mountCatalogFilter,
  "copy-text": mountCopyText,
  "search-suggest": mountSearchSuggest,
};

function mountLazy(host) {
  import(host.dataset.module).then(
    (module) => module.mount(host),
    () => host.classList.add("island-failed"),
  );
}

function mountAll() {
  for (const host of document.querySelectorAll("[data-island]")) {
    if (host.dataset.module) mountLazy(host);
    else ISLANDS[host.dataset.island]?.(host);
  }
}

// A module script may run before or after DOMContentLoaded depending on how the
// page loads it (defer, async, or injected late), so handle both.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", mountAll, { once: true });
} else {
  mountAll();
}
