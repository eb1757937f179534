import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  NONE,
  RESULT_LIMIT,
  countMessage,
  fillTemplate,
  isQueryable,
  nextIndex,
  pick,
  searchUrl,
  toSuggestions,
} from "../src/suggest.js";

// As /api/v1/search answers (server/api.py record_summary), trimmed to what the island reads.
const PAYLOAD = {
  query: "cong chieng",
  total: 12,
  items: [
    {
      id: "DL-ICH-01",
      kind: "di_san_phi_vat_the",
      title: { vi: "Không gian văn hóa Cồng chiêng Tây Nguyên", en: "Space of Gong Culture" },
    },
    { id: "DL-ART-01", kind: "hien_vat", title: { vi: "Bộ chiêng cổ" } },
    { id: "", kind: "hien_vat", title: { vi: "no id: skipped" } },
    { id: "X/Y 1", kind: "unknown", title: {} },
  ],
};
const KIND_NAMES = { di_san_phi_vat_the: "Di sản văn hóa phi vật thể", hien_vat: "Hiện vật" };
const TEXTS = {
  none: "Không có mục nào khớp với “{query}”.",
  one: "{count} mục khớp với “{query}”.",
  other: "{count} mục khớp với “{query}”.",
  more: "{count} mục đầu tiên trong {total} mục khớp với “{query}”.",
};

describe("when to ask", () => {
  it("needs two letters, counted after folding diacritics", () => {
    assert.equal(isQueryable(""), false);
    assert.equal(isQueryable("  c  "), false);
    assert.equal(isQueryable("ồ"), false);
    assert.equal(isQueryable("cồ"), true);
    assert.equal(isQueryable("đ "), false);
    assert.equal(isQueryable("..."), false);
    assert.equal(isQueryable("cong chieng"), true);
  });

  it("sends the text as typed, diacritics and all, with the result limit", () => {
    const url = searchUrl("/api/v1/search", "  Cồng chiêng ");
    assert.equal(url, `/api/v1/search?q=C%E1%BB%93ng+chi%C3%AAng&limit=${RESULT_LIMIT}`);
    const params = new URL(url, "http://museum.test").searchParams;
    assert.equal(params.get("q"), "Cồng chiêng");
    assert.equal(searchUrl("/api/v1/search", "a&b=c", 3), "/api/v1/search?q=a%26b%3Dc&limit=3");
  });
});

describe("the answer as choices", () => {
  it("titles in the page's language, falling back to Vietnamese", () => {
    assert.equal(pick({ vi: "Cồng chiêng", en: "Gongs" }, "en"), "Gongs");
    assert.equal(pick({ vi: "Bộ chiêng cổ" }, "en"), "Bộ chiêng cổ");
    assert.equal(pick({ rad: "Čing" }, "en"), "Čing");
    assert.equal(pick(null, "vi"), "");
  });

  it("keeps the answer's order, names the kind and builds each record's address", () => {
    const options = { lang: "en", itemUrl: "/items/__ID__", kindNames: KIND_NAMES };
    assert.deepEqual(toSuggestions(PAYLOAD, options), [
      {
        id: "DL-ICH-01",
        title: "Space of Gong Culture",
        kind: "Di sản văn hóa phi vật thể",
        href: "/items/DL-ICH-01",
      },
      { id: "DL-ART-01", title: "Bộ chiêng cổ", kind: "Hiện vật", href: "/items/DL-ART-01" },
      { id: "X/Y 1", title: "X/Y 1", kind: "", href: "/items/X%2FY%201" },
    ]);
  });

  it("treats a malformed answer as no results", () => {
    const options = { lang: "vi", itemUrl: "/items/__ID__" };
    assert.deepEqual(toSuggestions({}, options), []);
    assert.deepEqual(toSuggestions(null, options), []);
    assert.deepEqual(toSuggestions({ items: "nope" }, options), []);
  });
});

describe("keyboard", () => {
  it("steps down and up, wrapping round, and jumps with Home and End", () => {
    assert.equal(nextIndex(NONE, "ArrowDown", 3), 0);
    assert.equal(nextIndex(0, "ArrowDown", 3), 1);
    assert.equal(nextIndex(2, "ArrowDown", 3), 0);
    assert.equal(nextIndex(NONE, "ArrowUp", 3), 2);
    assert.equal(nextIndex(0, "ArrowUp", 3), 2);
    assert.equal(nextIndex(2, "ArrowUp", 3), 1);
    assert.equal(nextIndex(1, "Home", 3), 0);
    assert.equal(nextIndex(1, "End", 3), 2);
    assert.equal(nextIndex(1, "a", 3), 1);
  });

  it("has nothing to choose from an empty list", () => {
    assert.equal(nextIndex(NONE, "ArrowDown", 0), NONE);
    assert.equal(nextIndex(4, "ArrowUp", 0), NONE);
  });
});

describe("what the live region says", () => {
  it("fills named fields and leaves unknown ones", () => {
    assert.equal(fillTemplate("{count} of {total} {other}", { count: 2, total: 9 }), "2 of 9 {other}");
    assert.equal(fillTemplate(undefined, {}), "");
  });

  it("tells none, one, several and the first few of more apart", () => {
    const query = " cong chieng ";
    assert.equal(
      countMessage({ shown: 0, total: 0, query }, TEXTS),
      "Không có mục nào khớp với “cong chieng”.",
    );
    assert.equal(countMessage({ shown: 1, total: 1, query }, TEXTS), "1 mục khớp với “cong chieng”.");
    assert.equal(countMessage({ shown: 3, total: 3, query }, TEXTS), "3 mục khớp với “cong chieng”.");
    assert.equal(
      countMessage({ shown: 8, total: 12, query }, TEXTS),
      "8 mục đầu tiên trong 12 mục khớp với “cong chieng”.",
    );
  });
});
