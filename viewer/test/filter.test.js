import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { groupVisibility, statusText, visibleIndices } from "../src/filter.js";

const ITEMS = [
  { text: "Cồng chiêng Tây Nguyên" },
  { text: "Sử thi Đăm San" },
  { text: "Nghề dệt thổ cẩm M’nông" },
  { text: "Lễ cúng bến nước Êđê" },
  { text: "Nhà dài Ê Đê, Buôn Akô Dhông" },
];

describe("visibleIndices", () => {
  it("shows everything for an empty query", () => {
    assert.deepEqual(visibleIndices(ITEMS, ""), [0, 1, 2, 3, 4]);
    assert.deepEqual(visibleIndices(ITEMS, "  "), [0, 1, 2, 3, 4]);
  });

  it("filters diacritic-insensitively", () => {
    assert.deepEqual(visibleIndices(ITEMS, "cong"), [0]);
    assert.deepEqual(visibleIndices(ITEMS, "dam san"), [1]);
    assert.deepEqual(visibleIndices(ITEMS, "m'nong"), [2]);
    assert.deepEqual(visibleIndices(ITEMS, "M’NÔNG"), [2]);
  });

  it("needs every word and keeps document order", () => {
    assert.deepEqual(visibleIndices(ITEMS, "ede"), [3]);
    assert.deepEqual(visibleIndices(ITEMS, "e de"), [2, 3, 4]);
    assert.deepEqual(visibleIndices(ITEMS, "buon nha"), [4]);
  });

  it("returns nothing when nothing matches", () => {
    assert.deepEqual(visibleIndices(ITEMS, "gia rai"), []);
    assert.deepEqual(visibleIndices([], "cong"), []);
  });
});

describe("groupVisibility", () => {
  it("hides a group only when all of its items are hidden", () => {
    const groups = [[0, 1], [2], [3, 4]];
    assert.deepEqual(groupVisibility(groups, [1, 3]), [true, false, true]);
    assert.deepEqual(groupVisibility(groups, []), [false, false, false]);
  });

  it("leaves groups that never had items alone", () => {
    assert.deepEqual(groupVisibility([[], [0]], []), [true, false]);
  });
});

describe("statusText", () => {
  const texts = { countTemplate: "{shown} / {total}", emptyText: "Không có kết quả" };

  it("fills the count template", () => {
    assert.equal(statusText({ shown: 3, total: 12, ...texts }), "3 / 12");
    assert.equal(
      statusText({ shown: 1, total: 2, countTemplate: "{shown} of {total} ({shown})" }),
      "1 of 2 (1)",
    );
  });

  it("uses the empty text when nothing is shown", () => {
    assert.equal(statusText({ shown: 0, total: 12, ...texts }), "Không có kết quả");
  });

  it("falls back to the template when no empty text is given", () => {
    assert.equal(statusText({ shown: 0, total: 5, countTemplate: "{shown}/{total}" }), "0/5");
  });
});
