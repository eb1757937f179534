import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  PROVINCE_BOUNDS,
  boundsOf,
  escapeHtml,
  markerLabel,
  positions,
  readPlace,
  tileLayerOptions,
} from "../src/map-data.js";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const OUTLINE = JSON.parse(readFileSync(join(ROOT, "assets", "dak-lak-province.geojson"), "utf8"));
// Buôn Ma Thuột and Tuy Hòa: the capitals of the two provinces joined on 1 July 2025.
const BUON_MA_THUOT = { lat: 12.67, lon: 108.04 };
const TUY_HOA = { lat: 13.09, lon: 109.3 };

describe("places from the server's list", () => {
  it("reads coordinates, name and category from data-attributes", () => {
    assert.deepEqual(
      readPlace({
        lat: "12.67",
        lon: "108.04",
        name: "Buôn Ma Thuột",
        category: "relic_site",
        categoryLabel: "Di tích",
      }),
      { lat: 12.67, lon: 108.04, name: "Buôn Ma Thuột", category: "relic_site", categoryLabel: "Di tích" },
    );
    assert.equal(readPlace({ lat: "12.5", lon: "108", name: "X" }).category, "place");
  });

  it("refuses missing, malformed and impossible coordinates", () => {
    for (const dataset of [
      {},
      { lat: "", lon: "108" },
      { lat: "12.6", lon: "None" },
      { lat: "91", lon: "108" },
      { lat: "12", lon: "-181" },
      { lat: "Infinity", lon: "108" },
    ]) {
      assert.equal(readPlace(dataset), null, JSON.stringify(dataset));
    }
    assert.deepEqual(readPlace({ lat: "0", lon: "0" }).lat, 0);
  });
});

describe("the area to show", () => {
  it("lists every position of any GeoJSON object", () => {
    assert.equal(positions(OUTLINE).length, OUTLINE.features[0].geometry.coordinates[0].length);
    const multi = { type: "MultiPolygon", coordinates: [[[[1, 2], [3, 4], [1, 2]]], [[[5, 6], [7, 8], [5, 6]]]] };
    assert.deepEqual(positions({ type: "Feature", geometry: multi }), [
      [1, 2], [3, 4], [1, 2], [5, 6], [7, 8], [5, 6],
    ]);
    assert.deepEqual(positions({ type: "Point", coordinates: [108, 12] }), [[108, 12]]);
    assert.deepEqual(positions(null), []);
  });

  it("frames the province outline, which holds both former provinces' capitals", () => {
    const [[south, west], [north, east]] = boundsOf([], OUTLINE);
    for (const city of [BUON_MA_THUOT, TUY_HOA]) {
      assert.ok(south < city.lat && city.lat < north, `${city.lat} inside`);
      assert.ok(west < city.lon && city.lon < east, `${city.lon} inside`);
    }
    // The box the page shows before the outline arrives is that same box, to 0.01°.
    const [[s, w], [n, e]] = PROVINCE_BOUNDS;
    for (const [a, b] of [[south, s], [west, w], [north, n], [east, e]]) {
      assert.ok(Math.abs(a - b) < 0.01, `${a} ≈ ${b}`);
    }
  });

  it("widens the box for places outside the outline, and pads a lone place", () => {
    const far = { lat: 14.5, lon: 107 };
    const [[south, west], [north]] = boundsOf([far], OUTLINE);
    assert.equal(north, 14.5);
    assert.equal(west, 107);
    assert.ok(south < 12.2);
    const [[s, w], [n, e]] = boundsOf([BUON_MA_THUOT], null, 0.1);
    const expected = [12.57, 107.94, 12.77, 108.14];
    [s, w, n, e].forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-9, `${value}`));
    assert.equal(boundsOf([], null), null);
  });
});

describe("tile layer and labels", () => {
  it("uses a tile layer only when the server configured a usable template", () => {
    assert.equal(tileLayerOptions("", "x"), null);
    assert.equal(tileLayerOptions(undefined, undefined), null);
    assert.equal(tileLayerOptions("ftp://tiles.example/{z}/{x}/{y}.png", ""), null);
    assert.equal(tileLayerOptions("https://tiles.example/{z}/{x}.png", ""), null);
    assert.deepEqual(tileLayerOptions(" https://{s}.tiles.example/{z}/{x}/{y}.png ", "© <OSM> & co"), {
      url: "https://{s}.tiles.example/{z}/{x}/{y}.png",
      attribution: "© &lt;OSM&gt; &amp; co",
    });
  });

  it("escapes what Leaflet would write as HTML", () => {
    assert.equal(escapeHtml(`<img src=x onerror="a('b')">`), "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;");
    assert.equal(escapeHtml(null), "");
  });

  it("names a marker by its place and category", () => {
    assert.equal(markerLabel({ name: "Buôn Ma Thuột", categoryLabel: "Di tích" }), "Buôn Ma Thuột — Di tích");
    assert.equal(markerLabel({ name: "Buôn Đôn", categoryLabel: "" }), "Buôn Đôn");
  });
});
