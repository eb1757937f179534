// The kiosk's media viewers: the record pages' islands (model-viewer.js,
// deep-zoom.js, av-player.js), mounted from a stop's <template> when the stop is
// shown and taken down when it is left. A kiosk runs all day: only the stop on
// screen (and the attract loop's featured model) holds a WebGL context, a video
// decoder or an OpenSeadragon viewer.

const SPIN_INTERVAL = 100; // ms between the attract loop's steps: at most ten frames a second
const SPIN_SPEED = (2 * Math.PI) / 60_000; // radians per ms: a whole turn a minute
const MAX_STEP = Math.PI / 30; // radians: a slow machine jumps at most 6° at a time

/** Load the island's own bundle (data-module) and mount it, once it is in the page. */
export function mountIsland(host) {
  if (!host?.dataset.module) return Promise.resolve(false);
  return import(host.dataset.module).then(
    (module) => {
      if (!host.isConnected) return false; // the visitor moved on while it loaded
      const mounted = module.mount(host);
      capRendition(host);
      return mounted;
    },
    () => {
      host.classList.add("island-failed");
      return false;
    },
  );
}

/**
 * One rendition only, the one the kiosk keeps offline (server/kiosk_offline.py):
 * hls.js orders the levels by bit rate, so level 0, and no climbing above it.
 */
function capRendition(host) {
  const hls = host.avPlayer;
  if (!hls) return;
  hls.startLevel = 0;
  hls.autoLevelCapping = 0;
}

/** Clone ``template``'s island into ``slot`` and mount it; returns the host (or null). */
export function mountTemplate(template, slot) {
  if (!template || !slot) return null;
  const fragment = template.content.cloneNode(true);
  const host = fragment.querySelector("[data-island]");
  slot.append(fragment);
  if (host) mountIsland(host);
  return host;
}

/** Stop and release everything an island holds, then remove it from the page. */
export function disposeIsland(host) {
  if (!host) return;
  clearInterval(host.spinTimer);
  const viewer = host.modelViewer;
  if (viewer?.renderer) {
    if (viewer.controls) viewer.controls.autoRotate = false;
    viewer.renderer.setAnimationLoop?.(null);
    viewer.renderer.dispose();
    viewer.renderer.forceContextLoss?.();
  }
  host.avPlayer?.destroy?.();
  for (const media of host.querySelectorAll("video, audio")) {
    media.pause();
    media.removeAttribute("src");
    media.load?.();
  }
  host.deepZoom?.viewer?.destroy?.();
  host.remove();
}

/** Whether a recording inside ``root`` is playing (a visitor may watch without touching). */
export function isPlaying(root) {
  return [...root.querySelectorAll("video, audio")].some((media) => !media.paused && !media.ended);
}

/** Pause every recording inside ``root``. */
export function pauseAll(root) {
  for (const media of root.querySelectorAll("video, audio")) media.pause();
}

/**
 * Turn the attract loop's model slowly (or stop it); true when there is a model to turn.
 * The kiosk turns the camera itself, a step at a time, rather than with OrbitControls'
 * autoRotate, which draws every display frame: a kiosk without a GPU draws a frame in
 * software in a tenth of a second or more and would fall further and further behind. A
 * step waits until the GPU has finished the last one (a WebGL2 fence), and turns by the
 * time that has passed, so the model turns at the same speed on any machine.
 */
export function spin(host, on) {
  const viewer = host?.modelViewer;
  if (!viewer?.controls || viewer.shown < 0) return false;
  clearInterval(host.spinTimer);
  host.spinTimer = undefined;
  host.dataset.spinning = String(on);
  if (on) {
    viewer.stopIntro?.(); // the viewer's own short intro turn would fight this one
    const state = { last: performance.now(), fence: null };
    host.spinTimer = setInterval(() => turn(viewer, state), SPIN_INTERVAL);
  }
  return true;
}

function turn(viewer, state) {
  const gl = viewer.renderer.getContext();
  const fences = typeof gl.fenceSync === "function";
  if (state.fence) {
    if (gl.getSyncParameter(state.fence, gl.SYNC_STATUS) !== gl.SIGNALED) return; // still drawing
    gl.deleteSync(state.fence);
    state.fence = null;
  }
  const now = performance.now();
  const angle = Math.min(SPIN_SPEED * (now - state.last), MAX_STEP);
  state.last = now;
  const { camera, controls } = viewer;
  const offset = camera.position.clone().sub(controls.target).applyAxisAngle(camera.up, angle);
  camera.position.copy(controls.target).add(offset);
  controls.update(); // its "change" asks the viewer for a frame, drawn at the next animation frame
  if (fences) {
    requestAnimationFrame(() => {
      state.fence = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
      gl.flush();
    });
  }
}
