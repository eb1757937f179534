import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BREVE, TONES, addBreve, addTone, applyKey, deleteLast, graphemes, toneIndex } from "../src/kiosk-keyboard.js";
import {
  exhibitionPath,
  fill,
  freshState,
  isIdle,
  kioskConfig,
  searchStops,
  stepIndex,
  swipeDirection,
  takeCredentials,
} from "../src/kiosk-state.js";

const [ACUTE, GRAVE, HOOK, TILDE, DOT] = TONES.map((tone) => tone.mark);

function typed(keys) {
  return keys.reduce((text, key) => applyKey(text, key), "");
}

const letters = (word) => [...word].map((value) => ({ type: "letter", value }));

describe("the on-screen keyboard", () => {
  it("places Vietnamese tones where they belong", () => {
    const cases = [
      ["cong", GRAVE, "còng"],
      ["chieng", ACUTE, "chiéng"], // a final consonant: the last vowel
      ["chiêng", ACUTE, "chiếng"], // a modified vowel takes it (ê)
      ["nguoi", GRAVE, "nguòi"], // without ư ơ, the final vowel cluster's rule
      ["người".normalize("NFD").replace(/\u0300/, ""), GRAVE, "người"],
      ["hoa", GRAVE, "hoà"],
      ["hoang", GRAVE, "hoàng"],
      ["tai", GRAVE, "tài"],
      ["mua", ACUTE, "múa"],
      ["qua", ACUTE, "quá"],
      ["gia", HOOK, "giả"],
      ["Dak Lak", ACUTE, "Dak Lák"],
      ["thuoc", DOT, "thuọc"],
      ["khoai", TILDE, "khoãi"],
    ];
    for (const [text, mark, expected] of cases) {
      assert.equal(addTone(text.normalize("NFC"), mark), expected.normalize("NFC"), `${text} + tone`);
    }
  });

  it("typing Đắk Lắk letter by letter, tone after the vowel", () => {
    const keys = [
      { type: "letter", value: "đ" },
      { type: "letter", value: "ă" },
      { type: "letter", value: "k" },
      { type: "tone", mark: ACUTE },
      { type: "space" },
      ...letters("l"),
      { type: "letter", value: "ă" },
      { type: "letter", value: "k" },
      { type: "tone", mark: ACUTE },
    ];
    assert.equal(typed(keys), "đắk lắk");
  });

  it("the same tone twice takes it away; another tone replaces it", () => {
    assert.equal(addTone("má", ACUTE), "ma");
    assert.equal(addTone("má", GRAVE), "mà");
    assert.equal(addTone("", ACUTE), "");
    assert.equal(addTone("nh", ACUTE), "nh");
  });

  it("types the Êđê letters, their capitals and the breve on ê ô ơ ư", () => {
    for (const letter of ["ĕ", "ŏ", "ŭ", "ĭ", "ƀ", "č", "ñ"]) {
      assert.equal(applyKey("", { type: "letter", value: letter }, { capitals: true }), letter.toUpperCase());
    }
    assert.equal(applyKey("", { type: "letter", value: "ƀ" }, { capitals: true }), "\u0243");
    assert.equal(addBreve("kê"), `kê${BREVE}`);
    assert.equal(addBreve("e"), "ĕ");
    assert.equal(addBreve("Ơ"), `Ơ${BREVE}`);
    assert.equal(addBreve("ĕ"), "ĕ", "one breve only");
    assert.equal(addBreve("k"), "k", "consonants take none");
    assert.equal(typed([...letters("k"), { type: "letter", value: "ê" }, { type: "breve" }, { type: "letter", value: "č" }]), "kê̆č");
  });

  it("deletes a whole letter, never half of ê̆", () => {
    assert.equal(deleteLast(`kê${BREVE}`), "k");
    assert.equal(deleteLast("lắk"), "lắ");
    assert.equal(deleteLast(""), "");
    assert.deepEqual(graphemes(`ê${BREVE}č`), [`ê${BREVE}`, "č"]);
  });

  it("space, clear", () => {
    assert.equal(applyKey("gong", { type: "space" }), "gong ");
    assert.equal(applyKey("gong ", { type: "space" }), "gong ");
    assert.equal(applyKey("", { type: "space" }), "");
    assert.equal(applyKey("gong", { type: "clear" }), "");
  });

  it("finds the nucleus with qu and gi", () => {
    assert.equal(toneIndex([..."quy"]), 2);
    assert.equal(toneIndex([..."gi"]), 1);
    assert.equal(toneIndex([..."xyz"]), 1);
    assert.equal(toneIndex([..."nh"]), -1);
  });
});

describe("the kiosk's decisions", () => {
  it("reads its settings, ?idle= and ?heartbeat= first", () => {
    const dataset = { idle: "90", heartbeatSeconds: "60", languages: "vi en", defaultLang: "vi", exhibition: "x" };
    assert.equal(kioskConfig(dataset).idleSeconds, 90);
    assert.equal(kioskConfig(dataset, "?idle=3").idleSeconds, 3);
    assert.equal(kioskConfig(dataset, "?idle=0").idleSeconds, 1, "at least a second");
    assert.equal(kioskConfig(dataset, "?idle=soon").idleSeconds, 90);
    assert.equal(kioskConfig(dataset, "?heartbeat=5").heartbeatSeconds, 5);
    assert.equal(kioskConfig({}).idleSeconds, 90);
    assert.equal(kioskConfig({ ...dataset, defaultLang: "fr" }).defaultLanguage, "vi");
  });

  it("a new visitor starts fresh", () => {
    assert.deepEqual(freshState({ defaultLanguage: "vi" }), {
      screen: "attract",
      lang: "vi",
      index: 0,
      query: "",
      searchOpen: false,
    });
  });

  it("is idle after the idle time, unless something plays", () => {
    assert.equal(isIdle(10_000, 0, 10), true);
    assert.equal(isIdle(9_999, 0, 10), false);
    assert.equal(isIdle(60_000, 0, 10, true), false);
  });

  it("tells a swipe from a tap, a scroll or a slow drag", () => {
    const start = { x: 500, y: 300, time: 0 };
    assert.equal(swipeDirection(start, { x: 300, y: 320, time: 200 }), 1);
    assert.equal(swipeDirection(start, { x: 700, y: 290, time: 200 }), -1);
    assert.equal(swipeDirection(start, { x: 510, y: 300, time: 100 }), 0);
    assert.equal(swipeDirection(start, { x: 400, y: 500, time: 200 }), 0);
    assert.equal(swipeDirection(start, { x: 200, y: 300, time: 2000 }), 0);
  });

  it("stays within the stops", () => {
    assert.equal(stepIndex(0, -1, 3), 0);
    assert.equal(stepIndex(2, 1, 3), 2);
    assert.equal(stepIndex(1, 1, 3), 2);
    assert.equal(stepIndex(5, 0, 0), 0);
  });

  it("searches the stops with or without accents, Êđê letters folded", () => {
    const texts = ["Cồng chiêng Tây Nguyên Gongs", "Sử thi Đăm San Epic", "Kê̆č ƀlă", "Bình gốm"];
    assert.deepEqual(searchStops(texts, "cong chieng"), [0]);
    assert.deepEqual(searchStops(texts, "ĐĂM"), [1]);
    assert.deepEqual(searchStops(texts, "blă"), [2]);
    assert.deepEqual(searchStops(texts, "gongs"), [0]);
    assert.deepEqual(searchStops(texts, "   "), []);
    assert.deepEqual(searchStops(texts, "xyz"), []);
  });

  it("fills templates, makes other exhibitions' addresses, takes the setup credentials", () => {
    assert.equal(fill("Điểm {number} / {count}", { number: 2, count: 5 }), "Điểm 2 / 5");
    assert.equal(exhibitionPath("/kiosk/old-one", "new one"), "/kiosk/new%20one");
    assert.deepEqual(takeCredentials("?kiosk=hall-1&token=abc&idle=3"), {
      credentials: { id: "hall-1", token: "abc" },
      search: "?idle=3",
    });
    assert.deepEqual(takeCredentials("?idle=3"), { credentials: null, search: "?idle=3" });
    assert.deepEqual(takeCredentials(""), { credentials: null, search: "" });
  });
});
