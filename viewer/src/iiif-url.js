// Pure helpers of the deep-zoom viewer (deep-zoom.js): IIIF Image API 3.0
// addresses, the size of a detail to save, where an OCR line sits on the
// page, and which words of a search to highlight. No DOM and no
// OpenSeadragon here, so node's test runner covers them.

// ---- IIIF Image API 3.0 addresses -----------------------------------------

const QUALITIES = new Set(["default", "color", "gray", "bitonal"]);
const FORMATS = new Set(["jpg", "png", "webp", "gif", "tif", "jp2", "pdf"]);

function pixels(value, name) {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number ≥ 0, not ${value}`);
  return value;
}

function positive(value, name) {
  if (pixels(value, name) === 0) throw new RangeError(`${name} must be > 0`);
  return value;
}

// Percentages are written without float noise ("12.5", never "12.500000001").
function percent(value, name) {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a number ≥ 0, not ${value}`);
  return String(Number(value.toFixed(6)));
}

/**
 * The region segment: "full", "square", {x, y, width, height} in pixels, or
 * {percent: {x, y, width, height}}.
 */
export function regionParam(region = "full") {
  if (region === "full" || region === "square") return region;
  if (region?.percent) {
    const { x, y, width, height } = region.percent;
    if (!(width > 0 && height > 0)) throw new RangeError("a region's width and height must be > 0");
    return `pct:${[x, y, width, height].map((v, i) => percent(v, "xywh"[i])).join(",")}`;
  }
  const { x, y, width, height } = region ?? {};
  return [pixels(x, "x"), pixels(y, "y"), positive(width, "width"), positive(height, "height")].join(",");
}

/**
 * The size segment: "max", or {max: true}, {width}, {height}, {width, height},
 * {width, height, confined: true} ("!w,h": the best fit inside that box),
 * {percent}; `upscale: true` adds "^" (allowed to be larger than the region).
 */
export function sizeParam(size = "max") {
  if (size === "max") return "max";
  const up = size.upscale ? "^" : "";
  if (size.max) return `${up}max`;
  if (size.percent !== undefined) {
    if (!(size.percent > 0)) throw new RangeError("a size percentage must be > 0");
    return `${up}pct:${percent(size.percent, "percent")}`;
  }
  const width = size.width === undefined ? "" : positive(size.width, "width");
  const height = size.height === undefined ? "" : positive(size.height, "height");
  if (width === "" && height === "") throw new RangeError("a size needs a width, a height or both");
  if (size.confined) {
    if (width === "" || height === "") throw new RangeError("a confined size (!w,h) needs both width and height");
    return `${up}!${width},${height}`;
  }
  return `${up}${width},${height}`;
}

/** The rotation segment: degrees clockwise (0–360), "!" first when mirrored. */
export function rotationParam(degrees = 0, mirror = false) {
  if (!Number.isFinite(degrees) || degrees < 0 || degrees > 360) {
    throw new RangeError(`rotation must be 0–360 degrees, not ${degrees}`);
  }
  return `${mirror ? "!" : ""}${percent(degrees, "rotation")}`;
}

/**
 * An image request: `${service}/${region}/${size}/${rotation}/${quality}.${format}`.
 * `service` is the image service's id (its info.json address without "/info.json").
 */
export function imageUrl(service, { region, size, rotation = 0, mirror = false, quality = "default", format = "jpg" } = {}) {
  if (!QUALITIES.has(quality)) throw new RangeError(`unknown quality ${quality}`);
  if (!FORMATS.has(format)) throw new RangeError(`unknown format ${format}`);
  const base = String(service).replace(/\/+$/, "");
  return `${base}/${regionParam(region)}/${sizeParam(size)}/${rotationParam(rotation, mirror)}/${quality}.${format}`;
}

/** The image service of an info.json address: ".../iiif/3/abc/info.json" → ".../iiif/3/abc". */
export function serviceOf(infoUrl) {
  return String(infoUrl).replace(/\/info\.json$/, "");
}

/**
 * An info.json as OpenSeadragon should read it. OpenSeadragon takes the
 * `sizes` for the pyramid's levels whenever there are as many sizes as
 * levels, but the museum's sizes also list its thumbnails (150, 400, 1200 px
 * wide): a 4000 px image would be tiled on the grid of its 1200 px thumbnail.
 * Only the sizes that are levels of the tile pyramid are kept.
 */
export function tileSourceOf(info) {
  const factors = info.tiles?.[0]?.scaleFactors ?? [];
  const levels = new Set(factors.map((f) => `${Math.ceil(info.width / f)}×${Math.ceil(info.height / f)}`));
  return { ...info, sizes: (info.sizes ?? []).filter((s) => levels.has(`${s.width}×${s.height}`)) };
}

// ---- Sizes ----------------------------------------------------------------

/**
 * The size of a `width`×`height` image fitted inside `box`×`box` pixels (or a
 * {width, height} box), never enlarged, rounded down to whole pixels but never 0.
 */
export function fitWithin(width, height, box) {
  const boxWidth = typeof box === "number" ? box : box.width;
  const boxHeight = typeof box === "number" ? box : box.height;
  const scale = Math.min(1, boxWidth / width, boxHeight / height);
  return {
    width: Math.max(1, Math.floor(width * scale)),
    height: Math.max(1, Math.floor(height * scale)),
  };
}

/**
 * The region of the image a viewer shows, in whole image pixels inside the
 * image, from OpenSeadragon's viewport bounds (image width = 1 unit); null
 * when the view lies outside the image.
 */
export function visibleRegion(bounds, imageWidth, imageHeight) {
  const left = Math.max(0, Math.floor(bounds.x * imageWidth));
  const top = Math.max(0, Math.floor(bounds.y * imageWidth));
  const right = Math.min(imageWidth, Math.ceil((bounds.x + bounds.width) * imageWidth));
  const bottom = Math.min(imageHeight, Math.ceil((bounds.y + bounds.height) * imageWidth));
  if (right <= left || bottom <= top) return null;
  return { x: left, y: top, width: right - left, height: bottom - top };
}

/**
 * The address of the detail on screen as one picture, at most `maxSide`
 * pixels on its long side (never enlarged, and within the server's
 * `maxArea`), or null when nothing of the image is in view.
 */
export function detailUrl(service, bounds, image, { maxSide = 2000, maxArea = Infinity } = {}) {
  const region = visibleRegion(bounds, image.width, image.height);
  if (!region) return null;
  let size = fitWithin(region.width, region.height, maxSide);
  if (size.width * size.height > maxArea) {
    const scale = Math.sqrt(maxArea / (size.width * size.height));
    size = fitWithin(size.width, size.height, { width: size.width * scale, height: size.height * scale });
  }
  const whole = region.x === 0 && region.y === 0 && region.width === image.width && region.height === image.height;
  return imageUrl(service, { region: whole ? "full" : region, size: { ...size, confined: true } });
}

// ---- OCR lines on the page ------------------------------------------------

const XYWH = /#xywh=(?:(pixel|percent):)?([\d.]+),([\d.]+),([\d.]+),([\d.]+)$/;

/**
 * A Media Fragment target ("…/canvas/x#xywh=10,20,300,40", also "pixel:" and
 * "percent:") as a box in canvas pixels; null when the target names no box.
 */
export function parseXywh(target, canvas) {
  const match = XYWH.exec(typeof target === "string" ? target : target?.id ?? "");
  if (!match) return null;
  const [x, y, width, height] = match.slice(2).map(Number);
  if (![x, y, width, height].every(Number.isFinite) || width <= 0 || height <= 0) return null;
  if (match[1] !== "percent") return { x, y, width, height };
  return {
    x: (x / 100) * canvas.width,
    y: (y / 100) * canvas.height,
    width: (width / 100) * canvas.width,
    height: (height / 100) * canvas.height,
  };
}

/** A canvas box in OpenSeadragon viewport units, where the page's width is 1. */
export function toViewportRect(box, canvas) {
  const unit = canvas.width;
  return { x: box.x / unit, y: box.y / unit, width: box.width / unit, height: box.height / unit };
}

/** A canvas box as CSS percentages of the page, for elements laid over it. */
export function toPercentRect(box, canvas) {
  return {
    left: (box.x / canvas.width) * 100,
    top: (box.y / canvas.height) * 100,
    width: (box.width / canvas.width) * 100,
    height: (box.height / canvas.height) * 100,
  };
}

/**
 * The text lines of a IIIF AnnotationPage of OCR (`supplementing` TextualBody
 * annotations on boxes of the canvas), in reading order: {text, language, box}.
 */
export function annotationLines(page, canvas) {
  const lines = [];
  for (const item of page?.items ?? []) {
    const bodies = [item?.body].flat().filter((body) => body?.type === "TextualBody" && typeof body.value === "string");
    const box = parseXywh([item?.target].flat()[0], canvas);
    if (!bodies.length || !box || !bodies[0].value.trim()) continue;
    lines.push({ text: bodies[0].value, language: bodies[0].language ?? "", box });
  }
  return lines;
}

const characters = (text) => [...text].length;

/**
 * The part of a line's box that holds characters `start`–`end` of its text.
 * OCR gives boxes per line, so a word's place is estimated from its share of
 * the line: by `measure(text)` (the text's width in some font; by default its
 * number of characters), the line's text being spread over the whole box.
 */
export function spanBox(box, text, start, end, measure = characters) {
  const whole = measure(text) || 1;
  const before = measure(text.slice(0, start));
  const inside = measure(text.slice(0, end)) - before;
  return {
    x: box.x + (box.width * before) / whole,
    y: box.y,
    width: (box.width * inside) / whole,
    height: box.height,
  };
}

/**
 * The part of the page to show around a search hit: the hit in the middle of
 * a stretch about a dozen words wide, so the words around it can be read.
 */
export function focusBox(box, canvas, { lineHeights = 24 } = {}) {
  const width = Math.min(canvas.width, Math.max(box.width * 3, box.height * lineHeights));
  const height = Math.min(canvas.height, box.height * (lineHeights / 4));
  const x = Math.min(Math.max(0, box.x + box.width / 2 - width / 2), canvas.width - width);
  const y = Math.min(Math.max(0, box.y + box.height / 2 - height / 2), canvas.height - height);
  return { x, y, width, height };
}

// ---- Diacritic-insensitive matching ----------------------------------------

const COMBINING = /\p{M}/gu;
const WORD = /[\p{L}\p{N}]+/gu;
const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * One character folded for comparison: lower case, decomposed (NFD), without
 * combining marks, đ → d. "Ồ" → "o", "Đ" → "d", "ơ" → "o".
 */
function foldChar(char) {
  return char.toLowerCase().normalize("NFD").replace(COMBINING, "").replace(/đ/g, "d");
}

/**
 * `text` folded (see foldChar), with `starts[i]`: the index in `text` of the
 * character that folded character i came from (plus a final entry = length),
 * so a match in the folded text maps back to the original.
 */
export function fold(text) {
  let folded = "";
  const starts = [];
  let index = 0;
  for (const char of text) {
    const piece = foldChar(char);
    for (let i = 0; i < piece.length; i += 1) starts.push(index);
    folded += piece;
    index += char.length;
  }
  starts.push(text.length);
  return { text: folded, starts };
}

/** The distinct words of a search, folded: "Cồng  chiêng, cồng" → ["cong", "chieng"]. */
export function searchWords(query) {
  const words = (fold(String(query ?? "")).text.match(WORD) ?? []);
  return [...new Set(words)];
}

/**
 * Where the searched words occur in `text` as whole words, ignoring case and
 * diacritics: [{start, end}] indices into `text`, in order, each once.
 */
export function findMatches(text, words) {
  if (!words.length) return [];
  const { text: folded, starts } = fold(text);
  const found = [];
  for (const word of words) {
    for (let at = folded.indexOf(word); at !== -1; at = folded.indexOf(word, at + 1)) {
      const end = at + word.length;
      if (WORD_CHAR.test(folded[at - 1] ?? "") || WORD_CHAR.test(folded[end] ?? "")) continue;
      found.push({ start: starts[at], end: starts[end] });
    }
  }
  // Whole words cannot overlap unless they are the same word given twice.
  found.sort((a, b) => a.start - b.start);
  return found.filter((match, i) => i === 0 || match.start !== found[i - 1].start);
}

/**
 * Every hit of `words` on a page's lines: {line, start, end, box}, in reading
 * order; `measure` places the hit in its line as in spanBox.
 */
export function pageMatches(lines, words, measure = characters) {
  return lines.flatMap((line, index) =>
    findMatches(line.text, words).map(({ start, end }) => ({
      line: index,
      start,
      end,
      box: spanBox(line.box, line.text, start, end, measure),
    })),
  );
}

// ---- Interface text ----------------------------------------------------------

/** "Trang {page}/{pages}" with its {names} filled in. */
export function fillTemplate(template, values) {
  return String(template ?? "").replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
