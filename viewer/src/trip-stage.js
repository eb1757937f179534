// The stop a field-trip page shows. Every stop is in the page inside a <template>; showing
// one copies it into the stage and mounts its viewer islands (3D model, deep zoom, player)
// the way main.js mounts them on a record page. The teacher's view reaches the islands as
// a "museum:view" event; the latest one also waits on each island's host.museumView, for
// an island whose module is still loading.

import { viewFor } from "./trip-state.js";

function mountIslands(root) {
  for (const host of root.querySelectorAll("[data-island][data-module]")) {
    import(host.dataset.module).then(
      (module) => module.mount(host),
      () => host.classList.add("island-failed"),
    );
  }
}

export function createStage(root) {
  const stage = root.querySelector("[data-trip-stage]");
  const templates = new Map(
    [...root.querySelectorAll("template[data-trip-stop]")].map((t) => [Number(t.dataset.tripStop), t]),
  );
  let current = Number(stage.querySelector("[data-stop]")?.dataset.stop ?? -1);

  const section = () => stage.querySelector("[data-stop]");

  return {
    get current() {
      return current;
    },
    get count() {
      return templates.size;
    },
    get asset() {
      return section()?.dataset.asset || null;
    },
    /** Shows stop ``index`` (0-based); false when it is already shown or unknown. */
    show(index) {
      const template = templates.get(index);
      if (index === current || !template) return false;
      for (const media of stage.querySelectorAll("video, audio")) media.pause();
      stage.replaceChildren(template.content.cloneNode(true));
      current = index;
      mountIslands(stage);
      stage.dataset.shown = String(index);
      return true;
    },
    /** Hands the teacher's view to the islands of the stop on screen. */
    applyView(view) {
      const detail = viewFor(view, section()?.dataset.asset);
      if (!Object.keys(detail).length) return;
      for (const island of stage.querySelectorAll("[data-island]")) {
        island.museumView = detail;
        island.dispatchEvent(new CustomEvent("museum:view", { detail }));
      }
    },
  };
}

/** Wires the previous / next buttons and the stop menu of ``nav`` to ``go(index)``. */
export function bindStopNav(root, stage, go) {
  const select = root.querySelector("[data-trip-select]");
  root.querySelector("[data-trip-prev]")?.addEventListener("click", () => go(Math.max(0, stage.current - 1)));
  root.querySelector("[data-trip-next]")?.addEventListener("click", () => go(Math.min(stage.count - 1, stage.current + 1)));
  select?.addEventListener("change", () => go(Number(select.value)));
  return (index) => {
    if (select) select.value = String(index);
    const prev = root.querySelector("[data-trip-prev]");
    const next = root.querySelector("[data-trip-next]");
    if (prev) prev.disabled = index <= 0;
    if (next) next.disabled = index >= stage.count - 1;
  };
}
