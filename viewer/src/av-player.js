// The video and audio player island: hls.js on a server-rendered <video> or
// <audio>, with a quality menu and a captions menu. Loaded only by pages that
// show a recording (main.js imports it on demand), since hls.js is most of its
// weight. Without script the element still shows its poster and, in browsers
// that play HLS themselves, plays with the <track> captions the server wrote.
//
// Host markup (server/templates/_av.html):
//   <figure data-island="av-player" data-module="…" data-quality-label="…"
//           data-auto-label="…" data-captions-label="…" data-off-label="…"
//           data-error="…" data-lang="vi">
//     <video controls data-src="…/master.m3u8" poster="…"><track …></video>
//   </figure>

import Hls from "hls.js";
import { AUTO, OFF, initialTrack, levelOptions, trackOptions } from "./av-menu.js";
import { clock, cueIndexAt, timeAt, waveformBars } from "./av-sync.js";

let playerCount = 0;

function menu(host, className, labelText, options, selected, onChange) {
  const doc = host.ownerDocument;
  const id = `av-${className}-${playerCount}`;
  const wrapper = doc.createElement("p");
  wrapper.className = `av-control av-${className}`;
  const label = doc.createElement("label");
  label.htmlFor = id;
  label.textContent = labelText;
  const select = doc.createElement("select");
  select.id = id;
  for (const { value, label: text } of options) {
    const option = doc.createElement("option");
    option.value = String(value);
    option.textContent = text;
    option.selected = value === selected;
    select.append(option);
  }
  select.addEventListener("change", () => onChange(Number(select.value)));
  wrapper.append(label, select);
  return wrapper;
}

function controlsBar(host) {
  let bar = host.querySelector(".av-controls");
  if (!bar) {
    bar = host.ownerDocument.createElement("div");
    bar.className = "av-controls";
    host.querySelector("figcaption")?.before(bar) ?? host.append(bar);
  }
  return bar;
}

function showError(host, text) {
  let status = host.querySelector(".av-error");
  if (!status) {
    status = host.ownerDocument.createElement("p");
    status.className = "av-error";
    status.setAttribute("role", "alert");
    host.append(status);
  }
  status.textContent = text;
}

function attachHls(host, media, source) {
  // hls.js makes its own text tracks from the playlist's SUBTITLES group; the
  // server's <track> elements would show every caption twice.
  // The <source> is for browsers without script; hls.js feeds the element itself.
  for (const child of media.querySelectorAll("source, track[kind=captions], track[kind=subtitles]")) {
    child.remove();
  }
  const hls = new Hls({ capLevelToPlayerSize: false, renderTextTracksNatively: true });
  let recovered = false;
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    const bar = controlsBar(host);
    const qualities = levelOptions(hls.levels, host.dataset.autoLabel ?? "Auto");
    if (qualities.length) {
      bar.append(
        menu(host, "quality", host.dataset.qualityLabel ?? "", qualities, AUTO, (level) => {
          hls.currentLevel = level; // switches now (flushing what is buffered), or back to auto
        }),
      );
    }
  });
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => {
    const tracks = hls.subtitleTracks;
    const options = trackOptions(tracks, host.dataset.offLabel ?? "Off");
    if (!options.length || host.querySelector(".av-captions")) return;
    const first = initialTrack(tracks, host.dataset.lang);
    hls.subtitleTrack = first;
    hls.subtitleDisplay = first !== OFF;
    controlsBar(host).append(
      menu(host, "captions", host.dataset.captionsLabel ?? "", options, first, (track) => {
        hls.subtitleTrack = track;
        hls.subtitleDisplay = track !== OFF;
      }),
    );
  });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
      recovered = true; // one decoder hiccup is worth one recovery attempt
      hls.recoverMediaError();
      return;
    }
    showError(host, host.dataset.error ?? "");
    hls.destroy();
  });
  hls.loadSource(source);
  hls.attachMedia(media);
  return hls;
}

function playFrom(media, seconds) {
  media.currentTime = seconds;
  if (media.paused) media.play().catch(() => {}); // a refused autoplay leaves the controls
}

// The transcript the server wrote: each line's time becomes a button that plays
// from there, and the line being spoken is marked (aria-current) and kept in view.
function syncTranscript(host, media) {
  const section = host.querySelector(".av-transcript");
  if (!section) return;
  const items = [...section.querySelectorAll("li[data-start]")];
  const cues = items.map((li) => ({ start: Number(li.dataset.start), end: Number(li.dataset.end) }));
  items.forEach((li, index) => {
    const stamp = li.querySelector(".cue-time");
    const button = host.ownerDocument.createElement("button");
    button.type = "button";
    button.className = "cue-time";
    button.textContent = stamp?.textContent ?? clock(cues[index].start);
    button.setAttribute("aria-label", (section.dataset.jumpLabel ?? "{time}").replace("{time}", button.textContent));
    button.addEventListener("click", () => playFrom(media, cues[index].start));
    stamp ? stamp.replaceWith(button) : li.prepend(button);
  });
  const reduced = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
  let current = -1;
  media.addEventListener("timeupdate", () => {
    const index = cueIndexAt(cues, media.currentTime);
    if (index === current) return;
    if (current >= 0) items[current].removeAttribute("aria-current");
    current = index;
    if (index < 0) return;
    items[index].setAttribute("aria-current", "true");
    const list = items[index].parentElement;
    const top = items[index].offsetTop - list.offsetTop;
    if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - items[index].offsetHeight) {
      list.scrollTo({ top: Math.max(0, top - list.clientHeight / 3), behavior: reduced ? "auto" : "smooth" });
    }
  });
}

// An audio item's waveform: bars from waveform.json on a canvas, the part
// already played in the accent colour; a click or Enter/arrows seek.
async function drawWaveform(host, media) {
  const url = host.dataset.waveform;
  if (!url) return;
  let waveform;
  try {
    const response = await fetch(url);
    if (!response.ok) return;
    waveform = await response.json();
  } catch {
    return; // the player works without its picture
  }
  const doc = host.ownerDocument;
  const canvas = doc.createElement("canvas");
  canvas.className = "av-waveform";
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "slider");
  canvas.setAttribute("aria-label", host.dataset.waveformLabel ?? "");
  canvas.setAttribute("aria-valuemin", "0");
  media.after(canvas);
  const style = getComputedStyle(canvas);
  const draw = () => {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    const step = Math.max(2, Math.round(3 * ratio));
    const bars = waveformBars(waveform, Math.floor(width / step));
    const played = media.duration > 0 ? media.currentTime / media.duration : 0;
    bars.forEach((bar, index) => {
      const x = index * step;
      context.fillStyle = x / width < played ? style.getPropertyValue("--played") : style.color;
      const top = ((1 - bar.high) / 2) * height;
      const bottom = ((1 - bar.low) / 2) * height;
      context.fillRect(x, top, step - 1, Math.max(1, bottom - top));
    });
    canvas.setAttribute("aria-valuemax", String(Math.round(media.duration || 0)));
    canvas.setAttribute("aria-valuenow", String(Math.round(media.currentTime)));
    canvas.setAttribute("aria-valuetext", clock(media.currentTime));
  };
  canvas.addEventListener("click", (event) => {
    const box = canvas.getBoundingClientRect();
    playFrom(media, timeAt(event.clientX - box.left, box.width, media.duration));
  });
  canvas.addEventListener("keydown", (event) => {
    const jumps = { ArrowLeft: -5, ArrowRight: 5, PageDown: -30, PageUp: 30 };
    if (event.key in jumps) {
      event.preventDefault();
      media.currentTime = Math.min(media.duration || 0, Math.max(0, media.currentTime + jumps[event.key]));
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      media.paused ? media.play().catch(() => {}) : media.pause();
    }
  });
  for (const name of ["timeupdate", "durationchange", "seeked"]) media.addEventListener(name, draw);
  window.addEventListener("resize", draw);
  draw();
}

// An audio guide: one large play/pause button; the native controls stay for
// seeking but the button is what a visitor finds first.
function guideButton(host, media) {
  if (host.dataset.variant !== "guide") return;
  const button = host.ownerDocument.createElement("button");
  button.type = "button";
  button.className = "av-guide-button";
  const label = () => {
    const playing = !media.paused;
    button.textContent = playing ? host.dataset.pauseLabel : host.dataset.playLabel;
    button.setAttribute("aria-pressed", String(playing));
  };
  button.addEventListener("click", () => (media.paused ? media.play().catch(() => {}) : media.pause()));
  for (const name of ["play", "pause", "ended"]) media.addEventListener(name, label);
  label();
  media.before(button);
}

/** Mount one player; returns false when its host holds no media element. */
export function mount(host) {
  const media = host.querySelector("video, audio");
  if (!media || host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  playerCount += 1;
  const source = media.dataset.src;
  if (Hls.isSupported()) {
    host.avPlayer = attachHls(host, media, source);
  } else if (media.canPlayType("application/vnd.apple.mpegurl")) {
    media.src = source; // Safari plays HLS itself, with the playlist's own captions
    for (const track of media.querySelectorAll("track")) track.remove();
  } else {
    showError(host, host.dataset.error ?? "");
    return true;
  }
  guideButton(host, media);
  syncTranscript(host, media);
  drawWaveform(host, media);
  followTrip(host, media);
  return true;
}

// Field trips (viewer/src/trip.js): the teacher's time and play state arrive as a
// "museum:view" event, or wait on host.museumView; playing, pausing or seeking here
// announces them as a bubbling "museum:viewchange" event.
const TRIP_DRIFT = 1; // s: closer than this, a pupil's recording is not moved
function followTrip(host, media) {
  const apply = (state) => {
    if (!state) return;
    if (Math.abs(media.currentTime - state.time) > TRIP_DRIFT) media.currentTime = state.time;
    if (state.playing && media.paused) media.play().catch(() => {});
    else if (!state.playing && !media.paused) media.pause();
  };
  host.addEventListener("museum:view", (event) => apply(event.detail?.media));
  apply(host.museumView?.media);
  const announce = () => {
    const detail = { media: { time: media.currentTime, playing: !media.paused } };
    host.dispatchEvent(new CustomEvent("museum:viewchange", { bubbles: true, detail }));
  };
  for (const name of ["play", "pause", "seeked"]) media.addEventListener(name, announce);
}
