import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { foldVietnamese, matchesQuery, queryTokens } from "../src/fold.js";

const COMBINING_BREVE = "\u0306";

describe("foldVietnamese", () => {
  const cases = [
    ["Cồng chiêng", "cong chieng"],
    ["cong chieng", "cong chieng"],
    ["Đắk Lắk", "dak lak"],
    ["đắk lắk", "dak lak"],
    ["ĐẮK LẮK", "dak lak"],
    ["Buôn Ma Thuột", "buon ma thuot"],
    ["Sử thi Đăm San", "su thi dam san"],
    ["Nghề dệt thổ cẩm", "nghe det tho cam"],
    ["Ƀ ƀ", "b b"],
    ["Č č", "c c"],
    ["Ĕ ĕ", "e e"],
    ["Ñ ñ", "n n"],
    [`Ê${COMBINING_BREVE} ê${COMBINING_BREVE}`, "e e"],
    [`Ô${COMBINING_BREVE} ô${COMBINING_BREVE}`, "o o"],
    [`Ơ${COMBINING_BREVE} ơ${COMBINING_BREVE}`, "o o"],
    [`Ư${COMBINING_BREVE} ư${COMBINING_BREVE}`, "u u"],
    ["Ĭ ĭ Ŏ ŏ Ŭ ŭ Ă ă", "i i o o u u a a"],
    ["Êđê", "ede"],
    [`Klei Ê${COMBINING_BREVE} Mdê${COMBINING_BREVE}`, "klei e mde"],
  ];
  for (const [input, expected] of cases) {
    it(`folds ${JSON.stringify(input)}`, () => assert.equal(foldVietnamese(input), expected));
  }

  it("gives the same result for decomposed and precomposed input", () => {
    for (const text of ["Cồng chiêng", "Đắk Lắk", "Čư M’gar", "Ĕa Kar", "Ñu", "Ƀuôn Hô"]) {
      assert.equal(foldVietnamese(text.normalize("NFD")), foldVietnamese(text.normalize("NFC")));
      assert.equal(foldVietnamese(text.normalize("NFKD")), foldVietnamese(text));
    }
  });

  it("normalises apostrophe variants to U+0027", () => {
    assert.equal(foldVietnamese("M’nông"), "m'nong");
    assert.equal(foldVietnamese("M\u02BCnông"), "m'nong");
    assert.equal(foldVietnamese("M'nông"), "m'nong");
    assert.equal(foldVietnamese("H’Yim Niê"), "h'yim nie");
    assert.equal(foldVietnamese("H\u02BCHen Niê"), "h'hen nie");
    assert.equal(foldVietnamese("Y’Ngông Niê Kdăm"), "y'ngong nie kdam");
  });

  it("collapses and trims whitespace, including no-break spaces and newlines", () => {
    assert.equal(foldVietnamese("  Cồng \u00A0 chiêng\n\tTây   Nguyên "), "cong chieng tay nguyen");
  });

  it("is idempotent and tolerates empty input", () => {
    const once = foldVietnamese("Lễ hội Cà phê Buôn Ma Thuột");
    assert.equal(foldVietnamese(once), once);
    assert.equal(foldVietnamese(""), "");
    assert.equal(foldVietnamese(undefined), "");
    assert.equal(foldVietnamese(null), "");
  });
});

describe("matchesQuery", () => {
  const haystack = foldVietnamese("Không gian văn hóa Cồng chiêng Tây Nguyên — Đắk Lắk");

  it("matches with or without diacritics", () => {
    assert.equal(matchesQuery(haystack, "cồng chiêng"), true);
    assert.equal(matchesQuery(haystack, "cong chieng"), true);
    assert.equal(matchesQuery(haystack, "CONG"), true);
    assert.equal(matchesQuery(haystack, "công"), true); // different tone, same letters
    assert.equal(matchesQuery(haystack, "dak lak"), true);
  });

  it("needs every token, in any order", () => {
    assert.equal(matchesQuery(haystack, "tay nguyen cong"), true);
    assert.equal(matchesQuery(haystack, "lak   dak"), true);
    assert.equal(matchesQuery(haystack, "cong gia rai"), false);
  });

  it("matches partial words", () => {
    assert.equal(matchesQuery(haystack, "chie"), true);
    assert.equal(matchesQuery(haystack, "nguy"), true);
  });

  it("rejects real non-matches", () => {
    assert.equal(matchesQuery(haystack, "kong"), false);
    assert.equal(matchesQuery(haystack, "dak nong"), false);
    assert.equal(matchesQuery(haystack, "m'nong"), false);
    assert.equal(matchesQuery(haystack, "chieng tay nguyenx"), false);
    assert.equal(matchesQuery(foldVietnamese("M’nông"), "mnong"), false); // the apostrophe is kept
  });

  it("matches Êđê and apostrophe names whatever the input form", () => {
    const ede = foldVietnamese(`Klei Ê${COMBINING_BREVE} Mdê${COMBINING_BREVE} — H’Yim Niê`);
    assert.equal(matchesQuery(ede, "mde"), true);
    assert.equal(matchesQuery(ede, "h'yim"), true);
    assert.equal(matchesQuery(ede, "H\u02BCYim nie"), true);
    assert.equal(matchesQuery(ede, "y'yim"), false);
  });

  it("treats an empty or blank query as matching everything", () => {
    assert.equal(matchesQuery(haystack, ""), true);
    assert.equal(matchesQuery(haystack, "   "), true);
    assert.deepEqual(queryTokens("  "), []);
  });
});
