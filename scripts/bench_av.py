"""The video pipeline side by side with hand-written ffmpeg commands, on one 1080p input.

Usage: python scripts/bench_av.py [--seconds 30] [--work DIR] [--docs docs/benchmarks.md]

* **Ours:** ``museum process`` on the source, as a worker runs it (the sandboxed
  child, the whole job: probe, the ladder with thumbnails and poster candidates, the
  audio group measured and encoded alongside it, captions from speech, playlists,
  checksums).
* **One ffmpeg:** the equivalent command written out by hand, as an engineer
  would: one decode, ``split`` into the same four scalers, the same x264 and AAC
  settings and keyframes, ``loudnorm`` in one pass, ``-var_stream_map``.
* **One ffmpeg per rung:** the same rungs, each its own ffmpeg run (the audio with
  the first), which decodes the source four times.

The input is generated once, untimed: 1080p30 test pattern with film grain and, when
the corpus is beside the project, its LibriSpeech clip looped as the sound (else a
tone). Wall times are medians of ``--repeat`` runs, the commands taking turns. It
writes its section of docs/benchmarks.md (between the ``bench-av`` markers), prints
it, and exits 1 when a goal of issue 6 is missed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_docs import publish_verdict  # beside this script, on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DOCS = ROOT / "docs" / "benchmarks.md"
START_MARKER = "<!-- bench-av:start -->"
END_MARKER = "<!-- bench-av:end -->"
FFMPEG = "/usr/bin/ffmpeg"
SPEECH = ROOT.parent / "shared" / "corpus" / "av" / "speech" / "librispeech_198-209-0000.hq.ogg"
# (name, width, height, kbit/s, maxrate, bufsize): what processing.av.ladder gives 1080p30
RUNGS = (
    ("1080p", 1920, 1080, 5000, 7500, 15000),
    ("720p", 1280, 720, 2800, 4200, 8400),
    ("480p", 854, 480, 1400, 2100, 4200),
    ("360p", 640, 360, 800, 1200, 2400),
)
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-g", "60",
        "-keyint_min", "60", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)"]  # fmt: skip
AAC = ["-c:a", "aac", "-b:a", "128k"]
LOUDNORM = "loudnorm=I=-16:TP=-1.5:LRA=11,aresample=48000"
HLS = ["-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
       "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", "init.mp4"]  # fmt: skip
GOALS = {"single": 1.05, "per_rung": 0.65, "bytes": 0.03}


def generate(path: Path, seconds: int) -> None:
    video = f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=12:allf=t+u"
    argv = [FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", video]
    if SPEECH.is_file():
        argv += ["-stream_loop", "-1", "-i", str(SPEECH)]
    else:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}"]
    argv += ["-map", "0:v", "-map", "1:a", "-t", str(seconds), "-c:v", "libx264", "-preset", "fast"]
    argv += ["-crf", "16", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", str(path)]
    subprocess.run(argv, check=True, timeout=3600)


def single_command(source: Path, out: Path) -> list[str]:
    graph = "[0:v]split=4[a][b][c][d];" + ";".join(
        f"[{label}]scale={w}:{h},setsar=1,format=yuv420p[v{i}]"
        for i, (label, (_, w, h, *_)) in enumerate(zip("abcd", RUNGS, strict=True))
    )
    graph += f";[0:a]{LOUDNORM}[aud]"
    argv = [FFMPEG, "-nostdin", "-loglevel", "error", "-i", str(source), "-filter_complex", graph]
    argv += ["-map", "[aud]"] + [x for i in range(len(RUNGS)) for x in ("-map", f"[v{i}]")]
    argv += X264 + AAC + ["-ac", "2"]
    for i, (_, _, _, rate, peak, buffer) in enumerate(RUNGS):
        argv += [
            f"-b:v:{i}",
            f"{rate}k",
            f"-maxrate:v:{i}",
            f"{peak}k",
            f"-bufsize:v:{i}",
            f"{buffer}k",
        ]
    names = " ".join(f"v:{i},agroup:aud,name:{name}" for i, (name, *_) in enumerate(RUNGS))
    argv += [*HLS, "-var_stream_map", f"a:0,agroup:aud,name:audio {names}"]
    argv += [
        "-master_pl_name",
        "master.m3u8",
        "-hls_segment_filename",
        str(out / "%v/seg_%05d.m4s"),
    ]
    return [*argv, str(out / "%v/index.m3u8")]


def per_rung_commands(source: Path, out: Path) -> list[list[str]]:
    commands = []
    for i, (name, w, h, rate, peak, buffer) in enumerate(RUNGS):
        argv = [FFMPEG, "-nostdin", "-loglevel", "error", "-i", str(source)]
        argv += ["-vf", f"scale={w}:{h},setsar=1,format=yuv420p", "-map", "0:v"]
        if i == 0:
            argv += ["-map", "0:a", "-af", LOUDNORM, *AAC, "-ac", "2"]
        argv += [*X264, "-b:v", f"{rate}k", "-maxrate", f"{peak}k", "-bufsize", f"{buffer}k"]
        folder = out / name
        folder.mkdir(parents=True)
        argv += [
            *HLS,
            "-hls_segment_filename",
            str(folder / "seg_%05d.m4s"),
            str(folder / "index.m3u8"),
        ]
        commands.append(argv)
    return commands


def timed(argv_list: list[list[str]]) -> float:
    started = time.perf_counter()
    for argv in argv_list:
        subprocess.run(argv, check=True, timeout=7200)
    return time.perf_counter() - started


def rung_bytes(folder: Path) -> dict[str, int]:
    return {
        name: sum(
            p.stat().st_size for p in (folder / name).glob("*") if p.suffix in (".m4s", ".mp4")
        )
        for name, *_ in RUNGS
    }


def run_ours(source: Path, out: Path) -> dict:  # type: ignore[type-arg]
    museum = str(Path(sys.executable).parent / "museum")
    argv = [museum, "process", str(source), "--out", str(out), "--kind", "video"]
    started = time.perf_counter()
    subprocess.run(argv, check=True, timeout=7200, cwd=ROOT, capture_output=True)
    wall = time.perf_counter() - started
    report = json.loads((out / "report.json").read_text())
    return {"wall": wall, "report": report}


def bench(args: argparse.Namespace) -> int:
    if not Path(FFMPEG).is_file():
        print("video benchmark skipped: ffmpeg is not installed (apt install ffmpeg)")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-av-", dir=args.work) as scratch:
        work = Path(scratch)
        source = work / "source.mp4"
        generate(source, args.seconds)
        walls: dict[str, list[float]] = {"ours": [], "single": [], "per_rung": []}
        ours: dict = {}  # type: ignore[type-arg]
        for round_number in range(args.repeat):
            for name in ("ours", "single", "per_rung"):
                out = work / f"{name}-{round_number}"
                if name == "ours":
                    ours = run_ours(source, out)
                    walls[name].append(ours["wall"])
                    ours_bytes = rung_bytes(out)
                elif name == "single":
                    out.mkdir()
                    walls[name].append(timed([single_command(source, out)]))
                    single_bytes = rung_bytes(out)
                else:
                    walls[name].append(timed(per_rung_commands(source, out)))
                shutil.rmtree(out)
    median = {name: statistics.median(values) for name, values in walls.items()}
    report = ours["report"]
    timings = report["timings"]
    duration = report["statistics"]["duration"]
    asr_seconds = float((report["statistics"].get("speech") or {}).get("seconds", 0.0))
    ratios = {
        "single": median["ours"] / median["single"],
        "per_rung": median["ours"] / median["per_rung"],
    }
    byte_diffs = {name: ours_bytes[name] / single_bytes[name] - 1 for name in ours_bytes}
    worst_bytes = max(abs(v) for v in byte_diffs.values())
    met = {
        "single": ratios["single"] <= GOALS["single"],
        "per_rung": ratios["per_rung"] <= GOALS["per_rung"],
        "bytes": worst_bytes <= GOALS["bytes"],
    }
    lines = [
        START_MARKER,
        "## Video: one-run HLS ladder (against hand-written ffmpeg commands)",
        "",
        f"`python scripts/bench_av.py` — a generated {args.seconds} s 1080p30 source (test pattern "
        "with film grain, H.264; speech for its sound when the corpus is present), the four rungs "
        "1080p/720p/480p/360p. *Ours*: `museum process --kind video`, the whole job in its "
        "sandboxed child (probe; the ladder with thumbnails and poster candidates while the "
        "audio group is measured and encoded and the speech read alongside; poster, captions, "
        "playlists, checksums). *One ffmpeg*: the equivalent command by hand (split into four "
        "scalers, the same x264/AAC settings and keyframes, one-pass loudnorm, "
        "`-var_stream_map`). *Per rung*: one ffmpeg per rung. "
        f"Median of {args.repeat} runs each, taking turns.",
        "",
        "| | wall time | ours / it | goal |",
        "|---|---|---|---|",
        f"| ours | {median['ours']:.1f} s | – | – |",
        f"| one ffmpeg | {median['single']:.1f} s | {ratios['single']:.2f}× "
        f"{'' if met['single'] else '✗ '}| ≤ {GOALS['single']}× |",
        f"| one ffmpeg per rung | {median['per_rung']:.1f} s | {ratios['per_rung']:.2f}× "
        f"{'' if met['per_rung'] else '✗ '}| ≤ {GOALS['per_rung']}× |",
        "",
        "Bytes per rung, ours against the one ffmpeg command: "
        + ", ".join(f"{name} {diff:+.1%}" for name, diff in byte_diffs.items())
        + f" (goal within ±{GOALS['bytes']:.0%}: {'met' if met['bytes'] else '**NOT met**'}).",
        "",
        f"Our steps: {', '.join(f'{k} {v:.2f} s' for k, v in timings.items())} (audio runs "
        "alongside the ladder; the captions step is the wait for speech read during it). "
        f"Real-time factor of the whole job: {median['ours'] / duration:.2f} (wall time / duration); captions from speech: "
        f"{asr_seconds:.2f} s for {duration:.0f} s of sound ({duration / max(asr_seconds, 1e-3):.0f}× "
        "real time, the tiny test model, on the cores the encode also uses).",
        "",
    ]
    return publish_verdict(args.docs, lines, met, START_MARKER, END_MARKER)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--docs", type=Path, default=DOCS)
    return bench(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
