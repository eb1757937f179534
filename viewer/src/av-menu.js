// Pure helpers of the video and audio player (av-player.js): what its quality
// and captions menus offer, worked out from what hls.js read in the master
// playlist. No DOM and no hls.js here, so node's test runner covers them.

export const AUTO = -1; // hls.js: level -1 lets its bandwidth estimate choose
export const OFF = -1; // hls.js: subtitle track -1 shows none

/** A rung's name as people know it: "720p" for 1280×720, "1080p" for a portrait 1080×1920. */
export function levelName(level) {
  const { width, height } = level;
  if (width > 0 && height > 0) return `${Math.min(width, height)}p`;
  const kbps = Math.round((level.bitrate || 0) / 1000);
  return kbps > 0 ? `${kbps} kbit/s` : "";
}

/**
 * The quality menu: "automatic" first, then every level from the sharpest down
 * ({ value, label } with value the hls.js level index). Levels of the same
 * size are told apart by bit rate; a single level gives no menu (an empty list).
 */
export function levelOptions(levels, autoLabel) {
  if (!levels || levels.length < 2) return [];
  const named = levels.map((level, index) => ({ index, level, name: levelName(level) }));
  const count = new Map();
  for (const { name } of named) count.set(name, (count.get(name) || 0) + 1);
  named.sort(
    (a, b) =>
      (b.level.height || 0) - (a.level.height || 0) || (b.level.bitrate || 0) - (a.level.bitrate || 0),
  );
  return [
    { value: AUTO, label: autoLabel },
    ...named.map(({ index, level, name }) => ({
      value: index,
      label: count.get(name) > 1 ? `${name} · ${Math.round((level.bitrate || 0) / 1000)} kbit/s` : name,
    })),
  ];
}

/**
 * The captions menu: "off" first, then each subtitle track in playlist order,
 * named as the playlist names it (with its language when the name is empty).
 */
export function trackOptions(tracks, offLabel) {
  if (!tracks || tracks.length === 0) return [];
  return [
    { value: OFF, label: offLabel },
    ...tracks.map((track, index) => ({ value: index, label: track.name || track.lang || `${index + 1}` })),
  ];
}

/**
 * Which subtitle track to show first: the one whose language is the page's,
 * else the playlist's default, else none (captions stay a choice).
 */
export function initialTrack(tracks, pageLanguage) {
  if (!tracks || tracks.length === 0) return OFF;
  const base = (code) => String(code || "").toLowerCase().split("-")[0];
  const same = tracks.findIndex((track) => base(track.lang) === base(pageLanguage));
  if (same !== -1) return same;
  const preferred = tracks.findIndex((track) => track.default);
  return preferred;
}
