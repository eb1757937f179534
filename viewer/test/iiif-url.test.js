import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  annotationLines,
  detailUrl,
  fillTemplate,
  findMatches,
  fitWithin,
  fold,
  focusBox,
  imageUrl,
  pageMatches,
  parseXywh,
  regionParam,
  rotationParam,
  searchWords,
  serviceOf,
  tileSourceOf,
  sizeParam,
  spanBox,
  toPercentRect,
  toViewportRect,
  visibleRegion,
} from "../src/iiif-url.js";

const SERVICE = "http://127.0.0.1:8000/iiif/3/abc~2";

describe("IIIF Image API 3.0 addresses", () => {
  // The specification's own examples (Image API 3.0 §4.1–4.5).
  const table = [
    [{}, "full/max/0/default.jpg"],
    [{ region: "square", size: { width: 300 } }, "square/300,/0/default.jpg"],
    [{ region: { x: 125, y: 15, width: 120, height: 140 }, size: { height: 150 } }, "125,15,120,140/,150/0/default.jpg"],
    [{ region: { percent: { x: 41.6, y: 7.5, width: 40, height: 70 } } }, "pct:41.6,7.5,40,70/max/0/default.jpg"],
    [{ size: { width: 225, height: 100 } }, "full/225,100/0/default.jpg"],
    [{ size: { width: 225, height: 100, confined: true } }, "full/!225,100/0/default.jpg"],
    [{ size: { width: 360, height: 360, confined: true, upscale: true } }, "full/^!360,360/0/default.jpg"],
    [{ size: { percent: 12.5 } }, "full/pct:12.5/0/default.jpg"],
    [{ size: { max: true, upscale: true } }, "full/^max/0/default.jpg"],
    [{ rotation: 22.5, mirror: true, quality: "gray", format: "png" }, "full/max/!22.5/gray.png"],
    [{ rotation: 90, format: "webp" }, "full/max/90/default.webp"],
  ];
  for (const [options, path] of table) {
    it(`builds ${path}`, () => assert.equal(imageUrl(SERVICE, options), `${SERVICE}/${path}`));
  }

  it("writes percentages without floating-point noise", () => {
    assert.equal(regionParam({ percent: { x: 0.1 + 0.2, y: 0, width: 100 / 3, height: 50 } }), "pct:0.3,0,33.333333,50");
    assert.equal(rotationParam(0.1 + 0.2), "0.3");
  });

  it("refuses what the server would answer 400", () => {
    assert.throws(() => regionParam({ x: 0, y: 0, width: 0, height: 10 }), RangeError);
    assert.throws(() => regionParam({ x: -1, y: 0, width: 10, height: 10 }), RangeError);
    assert.throws(() => regionParam({ x: 0.5, y: 0, width: 10, height: 10 }), RangeError);
    assert.throws(() => sizeParam({}), RangeError);
    assert.throws(() => sizeParam({ width: 10, confined: true }), RangeError);
    assert.throws(() => sizeParam({ percent: 0 }), RangeError);
    assert.throws(() => rotationParam(361), RangeError);
    assert.throws(() => imageUrl(SERVICE, { quality: "native" }), RangeError);
    assert.throws(() => imageUrl(SERVICE, { format: "bmp" }), RangeError);
  });

  it("finds the service of an info.json address", () => {
    assert.equal(serviceOf(`${SERVICE}/info.json`), SERVICE);
    assert.equal(imageUrl(`${SERVICE}/`, {}), `${SERVICE}/full/max/0/default.jpg`);
  });
});

describe("info.json for OpenSeadragon", () => {
  // What the image pipeline writes for a 4000×3000 photograph: its thumbnails
  // and one level among the sizes, four of them as there are four levels.
  const info = {
    id: SERVICE,
    width: 4000,
    height: 3000,
    sizes: [
      { width: 150, height: 113 },
      { width: 400, height: 300 },
      { width: 500, height: 375 },
      { width: 1200, height: 900 },
    ],
    tiles: [{ width: 512, height: 512, scaleFactors: [1, 2, 4, 8] }],
    maxArea: 16777216,
  };

  it("keeps only the sizes that are levels of the pyramid", () => {
    const source = tileSourceOf(info);
    assert.deepEqual(source.sizes, [{ width: 500, height: 375 }]);
    assert.equal(source.maxArea, 16777216);
    assert.equal(info.sizes.length, 4, "the info.json itself is left alone");
  });

  it("rounds odd levels up, as the tiles are cut", () => {
    const odd = { width: 1001, height: 751, sizes: [{ width: 501, height: 376 }, { width: 251, height: 188 }], tiles: [{ scaleFactors: [1, 2, 4] }] };
    assert.deepEqual(tileSourceOf(odd).sizes, [{ width: 501, height: 376 }, { width: 251, height: 188 }]);
    assert.deepEqual(tileSourceOf({ width: 10, height: 10, sizes: [{ width: 5, height: 5 }] }).sizes, []);
  });
});

describe("sizes", () => {
  it("fits inside a box without enlarging", () => {
    assert.deepEqual(fitWithin(4000, 3000, 2000), { width: 2000, height: 1500 });
    assert.deepEqual(fitWithin(3000, 4000, { width: 1000, height: 1000 }), { width: 750, height: 1000 });
    assert.deepEqual(fitWithin(300, 200, 2000), { width: 300, height: 200 });
    assert.deepEqual(fitWithin(10000, 1, 100), { width: 100, height: 1 });
  });

  it("turns OpenSeadragon's viewport bounds into image pixels, clipped to the image", () => {
    // Image 4000×3000: viewport width 1 = 4000 px, so y runs 0–0.75.
    assert.deepEqual(visibleRegion({ x: 0.25, y: 0.125, width: 0.5, height: 0.25 }, 4000, 3000), {
      x: 1000, y: 500, width: 2000, height: 1000,
    });
    assert.deepEqual(visibleRegion({ x: -0.1, y: -0.1, width: 1.2, height: 1 }, 4000, 3000), {
      x: 0, y: 0, width: 4000, height: 3000,
    });
    assert.equal(visibleRegion({ x: 1.5, y: 0, width: 0.5, height: 0.5 }, 4000, 3000), null);
  });

  it("asks for the detail on screen, never larger than the region or maxArea", () => {
    const image = { width: 4000, height: 3000 };
    assert.equal(
      detailUrl(SERVICE, { x: 0.25, y: 0.125, width: 0.125, height: 0.0625 }, image),
      `${SERVICE}/1000,500,500,250/!500,250/0/default.jpg`,
    );
    assert.equal(
      detailUrl(SERVICE, { x: -0.5, y: -0.5, width: 2, height: 2 }, image),
      `${SERVICE}/full/!2000,1500/0/default.jpg`,
    );
    const capped = detailUrl(SERVICE, { x: 0, y: 0, width: 1, height: 0.75 }, image, { maxSide: 4000, maxArea: 1_000_000 });
    const [, width, height] = /!(\d+),(\d+)/.exec(capped).map(Number);
    assert.ok(width * height <= 1_000_000 && width >= 1100, capped);
    assert.equal(detailUrl(SERVICE, { x: 2, y: 2, width: 1, height: 1 }, image), null);
  });
});

describe("OCR lines on the page", () => {
  const canvas = { width: 2480, height: 1200 };

  it("reads xywh targets in pixels and percent", () => {
    assert.deepEqual(parseXywh("http://x/canvas/a~1#xywh=150,200,1800,60", canvas), { x: 150, y: 200, width: 1800, height: 60 });
    assert.deepEqual(parseXywh("c#xywh=pixel:1,2,3,4", canvas), { x: 1, y: 2, width: 3, height: 4 });
    assert.deepEqual(parseXywh({ id: "c#xywh=percent:50,25,10,10" }, canvas), { x: 1240, y: 300, width: 248, height: 120 });
    assert.equal(parseXywh("http://x/canvas/a~1", canvas), null);
    assert.equal(parseXywh("c#xywh=1,2,0,4", canvas), null);
  });

  it("maps a box to OpenSeadragon's viewport (page width = 1) and to CSS percentages", () => {
    const box = { x: 620, y: 300, width: 1240, height: 60 };
    assert.deepEqual(toViewportRect(box, canvas), { x: 0.25, y: 300 / 2480, width: 0.5, height: 60 / 2480 });
    assert.deepEqual(toPercentRect(box, canvas), { left: 25, top: 25, width: 50, height: 5 });
  });

  it("reads the lines of an AnnotationPage, skipping what is not a text box", () => {
    const page = {
      type: "AnnotationPage",
      items: [
        { motivation: "supplementing", body: { type: "TextualBody", value: "Tấm thổ cẩm", language: "vi" }, target: "c#xywh=150,200,600,50" },
        { motivation: "supplementing", body: { type: "TextualBody", value: "no box" }, target: "c" },
        { motivation: "supplementing", body: { type: "Image", id: "x.jpg" }, target: "c#xywh=1,1,1,1" },
        { motivation: "supplementing", body: [{ type: "TextualBody", value: "gùi" }], target: ["c#xywh=150,290,100,50"] },
      ],
    };
    assert.deepEqual(annotationLines(page, canvas), [
      { text: "Tấm thổ cẩm", language: "vi", box: { x: 150, y: 200, width: 600, height: 50 } },
      { text: "gùi", language: "", box: { x: 150, y: 290, width: 100, height: 50 } },
    ]);
    assert.deepEqual(annotationLines(undefined, canvas), []);
  });

  it("places a word by its share of the line's characters", () => {
    const box = { x: 100, y: 10, width: 1100, height: 40 };
    // "Tấm thổ cẩm" has 11 characters; "thổ" is characters 4–7.
    assert.deepEqual(spanBox(box, "Tấm thổ cẩm", 4, 7), { x: 500, y: 10, width: 300, height: 40 });
  });

  it("places a word by its share of the line's width when told how to measure", () => {
    const box = { x: 0, y: 0, width: 1000, height: 40 };
    // A font where "m" is three times as wide as anything else: "im mi" = 1+3+1+3+1 = 9.
    const measure = (text) => [...text].reduce((sum, c) => sum + (c === "m" ? 3 : 1), 0);
    const { x, width } = spanBox(box, "im mi", 3, 5, measure);
    assert.ok(Math.abs(x - 5000 / 9) < 1e-9 && Math.abs(width - 4000 / 9) < 1e-9, `${x} ${width}`);
    const [hit] = pageMatches([{ text: "im mi", box }], ["mi"], measure);
    assert.equal(hit.box.x, x);
  });
});

describe("diacritic-insensitive matching", () => {
  it("folds Vietnamese to bare letters, keeping a map back to the text", () => {
    assert.equal(fold("Đắk Lắk").text, "dak lak");
    assert.equal(fold("Cồng chiêng Ê Đê H'gơr").text, "cong chieng e de h'gor");
    const decomposed = "Ho\u0302\u0300";  // "Hồ" typed as base letter + combining marks
    assert.deepEqual(fold(decomposed), { text: "ho", starts: [0, 1, 4] });
  });

  it("splits a search into distinct folded words", () => {
    assert.deepEqual(searchWords("  Cồng chiêng, cồng  "), ["cong", "chieng"]);
    assert.deepEqual(searchWords("H'gơr"), ["h", "gor"]);
    assert.deepEqual(searchWords(""), []);
    assert.deepEqual(searchWords(null), []);
  });

  it("finds whole words with or without diacritics, returning the original's indices", () => {
    const text = "Tấm thổ cẩm dệt tay, thổ cẩm đẹp";
    const words = searchWords("tho cam");
    const found = findMatches(text, words);
    assert.deepEqual(found.map(({ start, end }) => text.slice(start, end)), ["thổ", "cẩm", "thổ", "cẩm"]);
    assert.deepEqual(findMatches("Đắk Lắk", searchWords("dak")), [{ start: 0, end: 3 }]);
    assert.deepEqual(findMatches("ĐẮK LẮK", searchWords("đắk")), [{ start: 0, end: 3 }]);
  });

  it("does not match inside a longer word", () => {
    assert.deepEqual(findMatches("Buôn Đôn, buôn làng", searchWords("buo")), []);
    assert.deepEqual(findMatches("thuyền độc mộc", searchWords("thuyen")), [{ start: 0, end: 6 }]);
    assert.deepEqual(findMatches("thuyềnx", searchWords("thuyen")), []);
  });

  it("counts a word searched twice once", () => {
    assert.deepEqual(findMatches("Ea Rốk, ea", ["ea", "ea"]), [{ start: 0, end: 2 }, { start: 8, end: 10 }]);
  });

  it("lists a page's hits with their boxes, line by line", () => {
    const lines = [
      { text: "Thuyền độc mộc", box: { x: 0, y: 0, width: 1400, height: 50 } },
      { text: "chiếc thuyền ấy", box: { x: 0, y: 100, width: 1500, height: 50 } },
    ];
    const hits = pageMatches(lines, searchWords("thuyen"));
    assert.deepEqual(hits.map((h) => [h.line, h.start, h.end]), [[0, 0, 6], [1, 6, 12]]);
    assert.deepEqual(hits[1].box, { x: 600, y: 100, width: 600, height: 50 });
  });
});

describe("interface text", () => {
  it("fills named placeholders and leaves unknown ones", () => {
    assert.equal(fillTemplate("Trang {page}/{pages}", { page: 2, pages: 5 }), "Trang 2/5");
    assert.equal(fillTemplate("{n} kết quả {x}", { n: 3 }), "3 kết quả {x}");
  });
});

describe("zooming to a hit", () => {
  const canvas = { width: 2480, height: 1200 };

  it("centres a stretch of the line around the hit", () => {
    const box = focusBox({ x: 1000, y: 500, width: 100, height: 40 }, canvas);
    assert.deepEqual(box, { x: 570, y: 400, width: 960, height: 240 });
  });

  it("stays on the page at its edges", () => {
    const box = focusBox({ x: 0, y: 0, width: 100, height: 40 }, canvas);
    assert.deepEqual([box.x, box.y], [0, 0]);
    const end = focusBox({ x: 2400, y: 1180, width: 80, height: 20 }, canvas);
    assert.equal(end.x + end.width, 2480);
    assert.ok(end.y + end.height <= 1200);
    const huge = focusBox({ x: 0, y: 0, width: 2480, height: 400 }, canvas);
    assert.deepEqual(huge, { x: 0, y: 0, width: 2480, height: 1200 });
  });
});
