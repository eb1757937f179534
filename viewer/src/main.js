// Entry point: mounts every progressive-enhancement island on the page.

import { mountCatalogFilter } from "./island.js";

const ISLANDS = {
  "catalog-filter": mountCatalogFilter,
};

function mountAll() {
  for (const host of document.querySelectorAll("[data-island]")) {
    ISLANDS[host.dataset.island]?.(host);
  }
}

// A module script may run before or after DOMContentLoaded depending on how the
// page loads it (defer, async, or injected late), so handle both.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", mountAll, { once: true });
} else {
  mountAll();
}
