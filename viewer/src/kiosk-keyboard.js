// The kiosk's on-screen keyboard, without the DOM: its layout and what each key
// does to the text. Vietnamese is typed as a letter then its tone (touch "á"
// after the vowel, as with Telex's "s"); Êđê's letters have their own row, and
// its breved vowels without a precomposed letter (ê̆ ô̆ ơ̆ ư̆) are a vowel then
// the breve key. Text stays NFC; deleting removes a whole grapheme cluster, so
// a breve is never split from its base.

export const TONES = [
  { id: "acute", mark: "\u0301", label: "á" },
  { id: "grave", mark: "\u0300", label: "à" },
  { id: "hook", mark: "\u0309", label: "ả" },
  { id: "tilde", mark: "\u0303", label: "ã" },
  { id: "dot", mark: "\u0323", label: "ạ" },
];
export const BREVE = "\u0306";
const TONE_MARKS = new Set(TONES.map((tone) => tone.mark));

export const LETTER_ROWS = [
  ["q", "w", "e", "r", "t", "y", "u", "i", "o", "p"],
  ["a", "s", "d", "f", "g", "h", "j", "k", "l"],
  ["z", "x", "c", "v", "b", "n", "m"],
];
export const VIETNAMESE_ROW = ["ă", "â", "đ", "ê", "ô", "ơ", "ư"];
export const EDE_ROW = ["ĕ", "ŏ", "ŭ", "ĭ", "ƀ", "č", "ñ"];

// Base vowels (after removing every mark) and the letters whose modifier is part
// of the vowel's identity, which take the tone first (ươ takes it on ơ).
const VOWEL = /^[aeiouy]$/;
const MODIFIED = new Set(["ă", "â", "ê", "ô", "ơ", "ư"]);
// Two-vowel endings that take the tone on the second vowel (the modern style).
const SECOND_TAKES_TONE = new Set(["oa", "oe", "uy"]);

function base(letter) {
  return letter.normalize("NFD")[0].toLowerCase();
}

/** The letter without its tone mark, NFC (keeps ă â ê ô ơ ư and breves). */
function withoutTone(letter) {
  return [...letter.normalize("NFD")].filter((c) => !TONE_MARKS.has(c)).join("").normalize("NFC");
}

function toneOf(letter) {
  return [...letter.normalize("NFD")].find((c) => TONE_MARKS.has(c)) ?? null;
}

/** The grapheme clusters of ``text`` (Intl.Segmenter where there is one). */
export function graphemes(text) {
  if (typeof Intl !== "undefined" && Intl.Segmenter) {
    return [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)].map((s) => s.segment);
  }
  const clusters = [];
  for (const char of text.normalize("NFC")) {
    if (/\p{M}/u.test(char) && clusters.length) clusters[clusters.length - 1] += char;
    else clusters.push(char);
  }
  return clusters;
}

/**
 * Which letter of ``word`` (an array of clusters) takes the tone, or -1.
 * The last run of vowels is the syllable's nucleus; "qu" and "gi" lend their
 * second letter to the consonant.
 */
export function toneIndex(word) {
  const bases = word.map((letter) => base(withoutTone(letter)));
  let end = bases.length - 1;
  while (end >= 0 && !VOWEL.test(bases[end])) end -= 1;
  if (end < 0) return -1;
  let start = end;
  while (start > 0 && VOWEL.test(bases[start - 1])) start -= 1;
  const lead = bases.slice(0, 2).join("");
  if ((lead === "qu" || lead === "gi") && start === 1 && end > 1) start = 2;
  const nucleus = word.slice(start, end + 1).map(withoutTone);
  const modified = nucleus.map((letter) => MODIFIED.has(letter.toLowerCase()));
  const last = modified.lastIndexOf(true);
  if (last >= 0) return start + last;
  if (nucleus.length === 1 || end < word.length - 1) return end; // one vowel, or a final consonant
  if (nucleus.length === 2) {
    return SECOND_TAKES_TONE.has(bases.slice(start, end + 1).join("")) ? end : start;
  }
  return start + 1; // three vowels: the middle one (oai, uya, uôi)
}

function lastWord(clusters) {
  let start = clusters.length;
  while (start > 0 && /\p{L}|\p{M}/u.test(clusters[start - 1])) start -= 1;
  return start;
}

/** ``text`` with ``mark`` as the tone of its last word (again: the tone removed). */
export function addTone(text, mark) {
  const clusters = graphemes(text.normalize("NFC"));
  const start = lastWord(clusters);
  const word = clusters.slice(start);
  const index = toneIndex(word);
  if (index < 0) return text.normalize("NFC");
  const had = word.map(toneOf).find((tone) => tone !== null) ?? null;
  const bare = word.map(withoutTone);
  if (had !== mark) bare[index] = (bare[index].normalize("NFD") + mark).normalize("NFC");
  return [...clusters.slice(0, start), ...bare].join("").normalize("NFC");
}

/** ``text`` with a breve on its last letter, if that is a vowel without one. */
export function addBreve(text) {
  const clusters = graphemes(text.normalize("NFC"));
  const last = clusters.at(-1);
  if (!last || !VOWEL.test(base(last)) || last.normalize("NFD").includes(BREVE)) {
    return text.normalize("NFC");
  }
  const decomposed = last.normalize("NFD");
  // The breve goes on the letter, under any tone: ê̆ is e + circumflex + breve.
  const tone = [...decomposed].filter((c) => TONE_MARKS.has(c)).join("");
  const letter = [...decomposed].filter((c) => !TONE_MARKS.has(c)).join("");
  clusters[clusters.length - 1] = (letter + BREVE + tone).normalize("NFC");
  return clusters.join("");
}

/** ``text`` without its last grapheme cluster. */
export function deleteLast(text) {
  const clusters = graphemes(text);
  clusters.pop();
  return clusters.join("");
}

/**
 * What a key does to the text. Keys: {type: "letter", value}, {type: "tone",
 * mark}, {type: "breve"}, {type: "space"}, {type: "delete"}, {type: "clear"}.
 */
export function applyKey(text, key, { capitals = false } = {}) {
  switch (key.type) {
    case "letter":
      return (text + (capitals ? key.value.toUpperCase() : key.value)).normalize("NFC");
    case "tone":
      return addTone(text, key.mark);
    case "breve":
      return addBreve(text);
    case "space":
      return text.endsWith(" ") || text === "" ? text : `${text} `;
    case "delete":
      return deleteLast(text);
    case "clear":
      return "";
    default:
      return text;
  }
}
