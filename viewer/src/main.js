// Entry point: mounts every progressive-enhancement island on the page.

import { mountCatalogFilter } from "./island.js";

// The video and audio player brings hls.js: its bundle is fetched only by pages
// that show a recording (the server puts its hashed address in data-module).
function mountAvPlayer(host) {
  if (!host.dataset.module) return;
  import(host.dataset.module).then(
    (module) => module.mountAvPlayer(host),
    () => host.classList.add("island-failed"),
  );
}

const ISLANDS = {
  "catalog-filter": mountCatalogFilter,
  "av-player": mountAvPlayer,
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
