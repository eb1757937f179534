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

/** Mount one player; returns false when its host holds no media element. */
export function mountAvPlayer(host) {
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
  }
  return true;
}
