// Diacritic-insensitive text folding for Vietnamese and the Central Highlands
// orthographies (Êđê, M'nông, J'rai…), so "cong chieng" finds "Cồng chiêng".

const COMBINING_MARK = /\p{M}/gu;
const WHITESPACE_RUN = /\s+/gu;

// Apostrophe look-alikes that appear in ethnic names such as M’nông or H‘Yim.
const APOSTROPHE_VARIANTS = /[\u2018\u2019\u02BB\u02BC]/gu;
const APOSTROPHE = "'";

// Letters whose diacritic is part of the glyph (stroke), so NFD cannot split it
// off; č and ñ do decompose but are listed so the mapping is explicit.
const LETTER_FOLDS = new Map([
  ["đ", "d"],
  ["ƀ", "b"],
  ["č", "c"],
  ["ñ", "n"],
]);
const FOLDED_LETTERS = new RegExp(`[${[...LETTER_FOLDS.keys()].join("")}]`, "gu");

/** Fold text for matching: lower-case, no diacritics, one space between words. */
export function foldVietnamese(text) {
  return String(text ?? "")
    .normalize("NFC")
    .toLowerCase()
    .replace(FOLDED_LETTERS, (letter) => LETTER_FOLDS.get(letter))
    .normalize("NFD")
    .replace(COMBINING_MARK, "")
    .replace(APOSTROPHE_VARIANTS, APOSTROPHE)
    .replace(WHITESPACE_RUN, " ")
    .trim();
}

/** The folded, non-empty words of a search query. */
export function queryTokens(query) {
  const folded = foldVietnamese(query);
  return folded === "" ? [] : folded.split(" ");
}

/** True when every token occurs somewhere in the already-folded haystack. */
export function matchesTokens(haystackFolded, tokens) {
  return tokens.every((token) => haystackFolded.includes(token));
}

/** True when every word of the query occurs in the already-folded haystack. */
export function matchesQuery(haystackFolded, query) {
  return matchesTokens(haystackFolded, queryTokens(query));
}
