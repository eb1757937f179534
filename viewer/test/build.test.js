// Runs the real build into a temporary directory and checks the contract the
// server relies on: manifest, hashed names, self-hosted fonts, no external URLs.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const VIEWER = dirname(dirname(fileURLToPath(import.meta.url)));
const PUBLIC_PATH = "/static/viewer/";
const HASHED = {
  "main.js": /^main-[A-Z0-9]{8}\.js$/,
  "main.css": /^main-[A-Z0-9]{8}\.css$/,
  "model-loader.js": /^model-loader-[A-Z0-9]{8}\.js$/,
  "av-player.js": /^av-player-[A-Z0-9]{8}\.js$/,
  "model-viewer.js": /^model-viewer-[A-Z0-9]{8}\.js$/,
  "deep-zoom.js": /^deep-zoom-[A-Z0-9]{8}\.js$/,
  "room.js": /^room-[A-Z0-9]{8}\.js$/,
  "map.js": /^map-[A-Z0-9]{8}\.js$/,
  "job-progress.js": /^job-progress-[A-Z0-9]{8}\.js$/,
  "uploader.js": /^uploader-[A-Z0-9]{8}\.js$/,
  "kiosk.js": /^kiosk-[A-Z0-9]{8}\.js$/,
  "kiosk.css": /^kiosk-[A-Z0-9]{8}\.css$/,
  "kiosk-sw.js": /^kiosk-sw-[A-Z0-9]{8}\.js$/,
};
const EXTERNAL_URL = /\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i;
// Names that look like addresses but are identifiers, never fetched: XML
// namespaces (three.js passes the XHTML one to document.createElementNS; hls.js
// reads TTML captions), the scheme of ID3 timed metadata in fMP4, and the bare
// protocol name hls.js compares location.protocol with; and the link in Leaflet's
// default attribution prefix (never fetched, and replaced by map.js).
const IDENTIFIERS =
  /(["'])(?:http:\/\/www\.w3\.org\/(?:1999\/xhtml|2000\/svg|ns\/ttml(?:#styling)?)|https:\/\/aomedia\.org\/emsg\/ID3|https:\/\/leafletjs\.com|http:)\1/g;
// OpenSeadragon (deep zoom) compares addresses it never fetches: the IIIF and
// DeepZoom context identifiers, the "https:" protocol name, its licence banner, and
// the OpenStreetMap tile template of a tile-source type the viewer never creates.
const VIEWER_IDENTIFIERS =
  /(["'])(?:https?:\/\/(?:iiif\.io\/api\/image|library\.stanford\.edu\/iiif\/image-api|schemas\.microsoft\.com\/deepzoom\/2008)[^"'\s]*|http:\/\/tile\.openstreetmap\.org\/|https:)\1|\/\^http:\\\/\\\/iiif\\\.io\\\/api\\\/image\\\/\[1-3\]\\\/context\\\.json\$\/|\/\*! (?:License: )?http:\/\/openseadragon\.github\.io(?:\/license\/)? \*\/|\(\*! (?:License: )?http:\/\/openseadragon\.github\.io(?:\/license\/)? \*\)/g;
const COMBINING_BREVE = 0x0306;
// Êđê letters written as base + U+0306: ê̆ ô̆ ơ̆ ư̆ and their capitals.
const EDE_BREVE_BASES = [0xca, 0xea, 0xd4, 0xf4, 0x1a0, 0x1a1, 0x1af, 0x1b0];

let outdir;

function readOut(name) {
  return readFileSync(join(outdir, name), "utf8");
}

function cssUrls(css) {
  return [...css.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g)].map((m) => m[1]);
}

function fontFaces(css) {
  return [...css.matchAll(/@font-face\s*\{([^}]*)\}/g)].map(([, body]) => {
    const face = {};
    for (const declaration of body.split(";")) {
      const colon = declaration.indexOf(":");
      if (colon > 0) face[declaration.slice(0, colon).trim()] = declaration.slice(colon + 1).trim();
    }
    return face;
  });
}

function rangeCovers(unicodeRange, codePoint) {
  if (!unicodeRange) return true; // no descriptor means the whole font
  return unicodeRange.split(",").some((part) => {
    const [low, high = low] = part.trim().replace(/^U\+/i, "").split("-");
    return parseInt(low, 16) <= codePoint && codePoint <= parseInt(high, 16);
  });
}

// Glyph lookup in a TrueType cmap (Windows Unicode BMP, format 4), enough to
// prove the font file itself has the characters, not just the CSS range.
function ttfGlyphLookup(buffer) {
  const tables = buffer.readUInt16BE(4);
  let cmap = -1;
  for (let i = 0; i < tables; i++) {
    const record = 12 + 16 * i;
    if (buffer.toString("latin1", record, record + 4) === "cmap") cmap = buffer.readUInt32BE(record + 8);
  }
  assert.ok(cmap >= 0, "font has a cmap table");
  let sub = -1;
  for (let i = 0; i < buffer.readUInt16BE(cmap + 2); i++) {
    const record = cmap + 4 + 8 * i;
    const isWindowsBmp = buffer.readUInt16BE(record) === 3 && buffer.readUInt16BE(record + 2) === 1;
    const offset = cmap + buffer.readUInt32BE(record + 4);
    if (isWindowsBmp && buffer.readUInt16BE(offset) === 4) sub = offset;
  }
  assert.ok(sub >= 0, "font has a format 4 cmap");
  const segX2 = buffer.readUInt16BE(sub + 6);
  const ends = sub + 14;
  const starts = ends + segX2 + 2;
  const deltas = starts + segX2;
  const rangeOffsets = deltas + segX2;
  return (codePoint) => {
    for (let s = 0; s < segX2; s += 2) {
      if (codePoint > buffer.readUInt16BE(ends + s)) continue;
      const start = buffer.readUInt16BE(starts + s);
      if (codePoint < start) return 0;
      const delta = buffer.readInt16BE(deltas + s);
      const rangeOffset = buffer.readUInt16BE(rangeOffsets + s);
      if (rangeOffset === 0) return (codePoint + delta) & 0xffff;
      const glyph = buffer.readUInt16BE(rangeOffsets + s + rangeOffset + 2 * (codePoint - start));
      return glyph === 0 ? 0 : (glyph + delta) & 0xffff;
    }
    return 0;
  };
}

describe("build", () => {
  before(() => {
    outdir = mkdtempSync(join(tmpdir(), "viewer-build-"));
    writeFileSync(join(outdir, "main-STALE000.js"), "stale");
    writeFileSync(join(outdir, "notes.txt"), "not a build output");
    const run = spawnSync(process.execPath, [join(VIEWER, "build.mjs"), "--outdir", outdir], {
      cwd: VIEWER,
      encoding: "utf8",
    });
    assert.equal(run.status, 0, `build failed:\n${run.stdout}\n${run.stderr}`);
  });

  after(() => rmSync(outdir, { recursive: true, force: true }));

  it("writes a manifest mapping logical names to hashed files", () => {
    const manifest = JSON.parse(readOut("manifest.json"));
    assert.deepEqual(Object.keys(manifest).sort(), [
      "av-player.js",
      "deep-zoom.js",
      "job-progress.js",
      "kiosk-sw.js",
      "kiosk.css",
      "kiosk.js",
      "main.css",
      "main.js",
      "map.js",
      "model-loader.js",
      "model-viewer.js",
      "room.js",
      "trip-teacher.js",
      "trip.js",
      "uploader.js",
    ]);
    for (const [logical, pattern] of Object.entries(HASHED)) {
      assert.match(manifest[logical], pattern);
      assert.ok(existsSync(join(outdir, manifest[logical])), `${manifest[logical]} exists`);
      assert.ok(existsSync(join(outdir, `${manifest[logical]}.map`)), "with a source map");
    }
  });

  it("removes stale outputs but leaves other files alone", () => {
    assert.equal(existsSync(join(outdir, "main-STALE000.js")), false);
    assert.equal(existsSync(join(outdir, "notes.txt")), true);
  });

  it("references no third-party host from any output", () => {
    for (const name of readdirSync(outdir).filter((n) => /\.(js|css|map|json)$/.test(n))) {
      const text = readOut(name).replace(IDENTIFIERS, "").replace(VIEWER_IDENTIFIERS, "");
      assert.doesNotMatch(text, EXTERNAL_URL, name);
      assert.doesNotMatch(text, /https?:/i, name);
    }
  });

  it("serves every CSS url() from the public path, and the files exist", () => {
    const css = readOut(JSON.parse(readOut("manifest.json"))["main.css"]);
    // Leaflet's old-IE rule url(#default#VML) names part of the page itself: nothing to fetch.
    const urls = cssUrls(css).filter((url) => !url.startsWith("#"));
    assert.ok(urls.some((url) => url.endsWith(".woff2")), "fontsource woff2 files are bundled");
    assert.ok(urls.some((url) => /marker-icon-[A-Z0-9]{8}\.png$/.test(url)), "Leaflet's images");
    for (const url of urls) {
      assert.ok(url.startsWith(PUBLIC_PATH), url);
      const file = url.slice(PUBLIC_PATH.length);
      assert.match(file, /-[A-Z0-9]{8}\.(woff2?|ttf|png)$/, "font and image names are hashed");
      assert.ok(existsSync(join(outdir, file)), `${file} is in the outdir`);
    }
  });

  it("renders Êđê breve letters with Noto Sans in every bundled weight and style", () => {
    const css = readOut(JSON.parse(readOut("manifest.json"))["main.css"]);
    const faces = fontFaces(css).filter((face) => face["font-family"].includes("Noto Sans"));
    const variants = new Set(faces.map((face) => `${face["font-weight"]} ${face["font-style"]}`));
    assert.ok(variants.size >= 3, `several variants: ${[...variants]}`);
    for (const variant of variants) {
      const breveFaces = faces.filter(
        (face) =>
          `${face["font-weight"]} ${face["font-style"]}` === variant &&
          rangeCovers(face["unicode-range"], COMBINING_BREVE),
      );
      assert.equal(breveFaces.length, 1, `one face covers U+0306 at ${variant}`);
      const face = breveFaces[0];
      for (const base of EDE_BREVE_BASES) assert.ok(rangeCovers(face["unicode-range"], base));
      const [file] = cssUrls(face.src).map((url) => url.slice(PUBLIC_PATH.length));
      const glyphOf = ttfGlyphLookup(readFileSync(join(outdir, file)));
      for (const codePoint of [COMBINING_BREVE, ...EDE_BREVE_BASES]) {
        assert.notEqual(glyphOf(codePoint), 0, `${file} has U+${codePoint.toString(16)}`);
      }
    }
  });
});
