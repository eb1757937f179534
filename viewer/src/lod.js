// Pure helpers of the 3D viewer (model-viewer.js): which level of detail (LOD)
// to show first, which one this screen, device and connection deserve, and the
// order to get there; plus the few conversions the viewer shows to people
// (a measured length in the reader's number format, annotation text in the
// page's language). No DOM and no three.js here, so node's test runner covers them.
//
// A LOD is { name, src, bytes, triangles, points } as the server writes it in
// the host's data-lods (server/model_view.py).

// Beyond about one triangle per three device pixels a finer mesh adds nothing
// visible; points are cheaper to draw and need about one per pixel to look solid.
export const TRIANGLES_PER_PIXEL = 0.35;
export const POINTS_PER_PIXEL = 1;
// Screens denser than 2× cost four times the pixels for detail few eyes resolve.
export const MAX_PIXEL_RATIO = 2;
// Phones and tablets with this much memory or less (navigator.deviceMemory, GB)
// get at most LOW_MEMORY_PRIMITIVES: a million-triangle level can crash their tab.
export const LOW_MEMORY_GB = 2;
export const LOW_MEMORY_PRIMITIVES = 300_000;
const MIB = 1024 * 1024;
// Connections where only the first picture is worth its bytes, and byte caps for
// the rest (navigator.connection.effectiveType; unknown means no cap).
const SLOW_CONNECTIONS = new Set(["slow-2g", "2g"]);
const BYTE_CAPS = { "3g": 4 * MIB };
// On the way to the target, an intermediate level is shown only when it is at
// most this share of the target's bytes: a larger one arrives too late to help.
export const WORTH_SHOWING = 0.25;

/** How many primitives a level draws: triangles, or points for a point cloud. */
export function primitives(lod) {
  return lod.triangles > 0 ? lod.triangles : lod.points || 0;
}

/**
 * The usable levels, smallest first (by primitives, then bytes). Levels with
 * as many primitives as a smaller one before them are left out: the pipeline
 * writes identical meshes under two names when a scan is already small.
 */
export function orderLods(lods) {
  const usable = (lods || []).filter((lod) => lod && lod.src && primitives(lod) > 0);
  usable.sort((a, b) => primitives(a) - primitives(b) || (a.bytes || 0) - (b.bytes || 0));
  return usable.filter((lod, i) => i === 0 || primitives(lod) > primitives(usable[i - 1]));
}

/** Device pixels the canvas covers: CSS size × pixel ratio (capped at MAX_PIXEL_RATIO) squared. */
export function devicePixels({ width = 0, height = 0, devicePixelRatio = 1 } = {}) {
  const ratio = Math.min(Math.max(devicePixelRatio || 1, 1), MAX_PIXEL_RATIO);
  return Math.max(0, width) * Math.max(0, height) * ratio * ratio;
}

/**
 * The index (in orderLods order) of the finest level worth loading for this
 * viewport and device: { width, height, devicePixelRatio } in CSS pixels, plus
 * what navigator.connection and navigator.deviceMemory say when present
 * ({ saveData, effectiveType, deviceMemory }). Never below 0: the smallest
 * level is always shown.
 */
export function targetIndex(ordered, device = {}) {
  if (ordered.length === 0) return -1;
  if (device.saveData || SLOW_CONNECTIONS.has(device.effectiveType)) return 0;
  const byteCap = BYTE_CAPS[device.effectiveType] ?? Infinity;
  const pixels = devicePixels(device);
  const lowMemory = device.deviceMemory > 0 && device.deviceMemory <= LOW_MEMORY_GB;
  let chosen = 0;
  ordered.forEach((lod, i) => {
    const perPixel = lod.triangles > 0 ? TRIANGLES_PER_PIXEL : POINTS_PER_PIXEL;
    let budget = pixels * perPixel;
    if (lowMemory) budget = Math.min(budget, LOW_MEMORY_PRIMITIVES);
    if (primitives(lod) <= budget && (lod.bytes || 0) <= byteCap) chosen = i;
  });
  return chosen;
}

/**
 * The levels to load, in order, to go from the one shown (`shown`, -1 when none
 * is) to `target`: the smallest first when nothing is shown yet, then only the
 * intermediates small enough to arrive well before the target, then the target.
 */
export function upgradeSequence(ordered, target, shown = -1) {
  if (target <= shown || target >= ordered.length) return [];
  const sequence = [];
  const targetBytes = ordered[target].bytes || 0;
  for (let i = shown + 1; i < target; i++) {
    const first = shown < 0 && i === 0;
    if (first || (ordered[i].bytes || 0) <= WORTH_SHOWING * targetBytes) sequence.push(i);
  }
  sequence.push(target);
  return sequence;
}

/**
 * Metres per model unit, from the size the pipeline recorded (dimensions_mm:
 * { width, height, depth }) and the model's measured size in its own units
 * ({ x, y, z }). Published models are in metres, so this is 1 up to rounding;
 * anything unusable gives 1.
 */
export function metresPerUnit(dimensionsMm, size) {
  if (!dimensionsMm || !size) return 1;
  const recorded = Math.max(dimensionsMm.width || 0, dimensionsMm.height || 0, dimensionsMm.depth || 0);
  const measured = Math.max(size.x || 0, size.y || 0, size.z || 0);
  if (!(recorded > 0 && measured > 0) || !Number.isFinite(recorded / measured)) return 1;
  return recorded / 1000 / measured;
}

/** A length in metres as people write it: "8.5 mm", "43 mm", "21.2 cm", "1.35 m" (in `lang`'s format). */
export function formatLength(metres, lang = "vi") {
  const mm = metres * 1000;
  let value;
  let unit;
  let digits;
  if (mm < 100) [value, unit, digits] = [mm, "mm", mm < 10 ? 1 : 0];
  else if (mm < 1000) [value, unit, digits] = [mm / 10, "cm", 1];
  else [value, unit, digits] = [metres, "m", 2];
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value)} ${unit}`;
}

/**
 * An annotation's text in the page's language, else in Vietnamese (the museum's
 * first language), else in any language it has: { text, lang }.
 */
export function pickText(texts, lang) {
  const map = texts || {};
  for (const code of [lang, "vi", ...Object.keys(map)]) {
    if (map[code]) return { text: map[code], lang: code };
  }
  return { text: "", lang };
}
