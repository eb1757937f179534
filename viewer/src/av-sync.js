// Pure helpers of the player's transcript and waveform (av-player.js): which
// line of the transcript is being spoken, and the bars a waveform draws. No DOM.

/**
 * The index of the cue playing at `time` (seconds), or -1 between cues.
 * `cues` are { start, end } sorted by start, as a transcript lists them;
 * when cues overlap, the one that started last wins (it is the newer line).
 */
export function cueIndexAt(cues, time) {
  let low = 0;
  let high = cues.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (cues[middle].start <= time) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  for (let i = found; i >= 0 && i > found - 4; i -= 1) {
    if (time < cues[i].end) return i;
  }
  return -1;
}

/** "m:ss" or "h:mm:ss" for a time in seconds, as the transcript's buttons show it. */
export function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = String(whole % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

/**
 * `count` bars from audiowaveform (version 2, one channel) peaks: each bar is
 * the lowest min and highest max of its share of the pairs, scaled to -1..1.
 */
export function waveformBars(waveform, count) {
  const data = waveform?.data ?? [];
  const pairs = Math.floor(data.length / 2);
  if (pairs === 0 || count < 1) return [];
  const full = waveform.bits === 16 ? 32768 : 128;
  const bars = [];
  for (let bar = 0; bar < count; bar += 1) {
    const first = Math.floor((bar * pairs) / count);
    const last = Math.max(first + 1, Math.floor(((bar + 1) * pairs) / count));
    let low = 0;
    let high = 0;
    for (let pair = first; pair < last && pair < pairs; pair += 1) {
      low = Math.min(low, data[2 * pair]);
      high = Math.max(high, data[2 * pair + 1]);
    }
    bars.push({ low: Math.max(-1, low / full), high: Math.min(1, high / full) });
  }
  return bars;
}

/** The time (seconds) a click at `x` of a `width`-wide waveform stands for. */
export function timeAt(x, width, duration) {
  if (!(width > 0) || !(duration > 0)) return 0;
  return Math.min(duration, Math.max(0, (x / width) * duration));
}
