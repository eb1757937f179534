// Bundles the viewer into content-hashed files plus manifest.json, which the
// Python server reads to link the current files (served with immutable caching).
//
//   node build.mjs [--outdir DIR]     (or VIEWER_OUTDIR=DIR; default dist/)

import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUTDIR = join(ROOT, "dist");
const PUBLIC_PATH = "/static/viewer/";
const MANIFEST = "manifest.json";
// Each bundle is one esbuild run; every entry point becomes a manifest key.
// model-loader.js (three.js GLTFLoader + meshopt decoder, ~430 kB) is its own
// bundle so pages without a 3D model never download it. Its source map leaves
// out the upstream sources: their comments link to the projects' web pages,
// and no output may name a third-party host.
const BUNDLES = [
  // Leaflet's stylesheet (map.css) has comments linking to bug trackers: no sources here either.
  { entryPoints: ["src/main.js", "src/main.css"], sourcesContent: false },
  { entryPoints: ["src/model-loader.js"], sourcesContent: false },
  // hls.js (~590 kB) for the video and audio player, fetched only where a recording is shown.
  { entryPoints: ["src/av-player.js"], sourcesContent: false },
  // The 3D viewer (three.js), deep zoom (OpenSeadragon), the walkable exhibition room
  // (three.js) and the map (Leaflet): each fetched only by the pages that show one.
  { entryPoints: ["src/model-viewer.js"], sourcesContent: false },
  { entryPoints: ["src/deep-zoom.js"], sourcesContent: false },
  { entryPoints: ["src/room.js"], sourcesContent: false },
  // Leaflet's licence banner names its web page; its licence is in NOTICE instead.
  { entryPoints: ["src/map.js"], sourcesContent: false, legalComments: "none" },
  // Live job progress on the staff job pages (EventSource), fetched only there.
  { entryPoints: ["src/job-progress.js"] },
  // The staff uploader (tus-js-client + hash-wasm), fetched only by /admin/upload.
  { entryPoints: ["src/uploader.js"], sourcesContent: false, legalComments: "none" },
  // The museum kiosk app (/kiosk/…) and its service worker, which the server serves at the
  // kiosk's own address so that its scope is the kiosk's (server/kiosk.py).
  { entryPoints: ["src/kiosk.js", "src/kiosk.css"] },
  { entryPoints: ["src/kiosk-sw.js"] },
  // Field trips: the pupil's and the teacher's islands, fetched only by the trip pages.
  { entryPoints: ["src/trip.js", "src/trip-teacher.js"] },
].map((bundle) => ({ ...bundle, entryPoints: bundle.entryPoints.map((p) => join(ROOT, p)) }));
// Fonts, and the marker and control images of Leaflet's stylesheet and map bundle.
const FONT_LOADERS = { ".woff2": "file", ".woff": "file", ".ttf": "file", ".png": "file" };
// Only these are removed when cleaning, so a mistyped --outdir cannot wipe
// unrelated files.
const OUTPUT_EXTENSIONS = new Set([".js", ".css", ".map", ".json", ".woff2", ".woff", ".ttf", ".png"]);

function parseOutdir(argv, env) {
  const flag = argv.findIndex((arg) => arg === "--outdir" || arg.startsWith("--outdir="));
  if (flag === -1) return env.VIEWER_OUTDIR || DEFAULT_OUTDIR;
  const value = argv[flag].includes("=") ? argv[flag].split("=").slice(1).join("=") : argv[flag + 1];
  if (!value) throw new Error("--outdir needs a directory");
  return value;
}

function removeStaleOutputs(outdir) {
  mkdirSync(outdir, { recursive: true });
  for (const entry of readdirSync(outdir, { withFileTypes: true })) {
    if (entry.isFile() && OUTPUT_EXTENSIONS.has(extname(entry.name))) {
      rmSync(join(outdir, entry.name));
    }
  }
}

// Maps "main.js" -> "main-AB12CD34.js" for each entry point's output.
function manifestFromMetafile(metafile, outdir) {
  const manifest = {};
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!output.entryPoint) continue;
    const path = resolve(ROOT, file); // metafile paths are relative to ROOT
    if (dirname(path) !== resolve(outdir)) throw new Error(`unexpected output ${file}`);
    manifest[basename(output.entryPoint)] = basename(path);
  }
  return manifest;
}

export async function build({ outdir = DEFAULT_OUTDIR } = {}) {
  removeStaleOutputs(outdir);
  const manifest = {};
  for (const bundle of BUNDLES) {
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      ...bundle,
      outdir,
      bundle: true,
      format: "esm",
      target: "es2020",
      minify: true,
      sourcemap: true,
      entryNames: "[name]-[hash]",
      assetNames: "[name]-[hash]",
      loader: FONT_LOADERS,
      publicPath: PUBLIC_PATH,
      metafile: true,
      logLevel: "warning",
    });
    Object.assign(manifest, manifestFromMetafile(result.metafile, outdir));
  }
  writeFileSync(join(outdir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = resolve(parseOutdir(process.argv.slice(2), process.env));
  const manifest = await build({ outdir });
  console.log(`viewer built into ${outdir}: ${JSON.stringify(manifest)}`);
}
