// The uploader island: resumable uploads (tus 1.0, tus-js-client) from the staff
// upload page. It computes the file's SHA-256 first (hash-wasm, a slice at a time,
// so a multi-GB file never sits in memory) and sends it in the upload's metadata:
// the server keeps the file only if every byte arrived as hashed. It shows bytes,
// percent and speed, can pause, resume and cancel, retries with backoff after a
// network drop and continues when the browser is back online; an upload interrupted
// by closing the page resumes when the same file is chosen again.
//
// Host markup (server/templates/admin_upload.html): a working <form> with
//   data-island="uploader" data-module="…" data-endpoint="/uploads/"
//   data-csrf="…" data-lang="vi" data-max-size="…" data-chunk-size="…"
//   data-labels='{"pause": "…", …}'   (every visible string, translated by the server)
// and inside it input[type=file], optional input[name=record], select[name=kind].

import { createSHA256 } from "hash-wasm";
import * as tus from "tus-js-client";
import {
  DEFAULT_CHUNK_SIZE,
  HASH_SLICE,
  RETRY_DELAYS,
  errorMessage,
  fill,
  formatBytes,
  percent,
  settled,
  shouldRetry,
  speedMeter,
  uploadMetadata,
} from "./upload-format.js";

const POLL_MS = 2000;

/** The SHA-256 (hex) of a File or Blob, read ``HASH_SLICE`` bytes at a time. */
export async function sha256OfFile(file, onProgress = () => {}) {
  const hasher = await createSHA256();
  hasher.init();
  for (let start = 0; start < file.size; start += HASH_SLICE) {
    const end = Math.min(file.size, start + HASH_SLICE);
    hasher.update(new Uint8Array(await file.slice(start, end).arrayBuffer()));
    onProgress(end);
  }
  return hasher.digest("hex");
}

function element(doc, tag, props = {}, ...children) {
  const node = doc.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function buildPanel(host, labels) {
  const doc = host.ownerDocument;
  const bar = element(doc, "progress", { className: "uploader-bar", max: 100, value: 0 });
  bar.setAttribute("aria-label", labels.progress ?? "");
  const line = element(doc, "p", { className: "uploader-line" });
  line.setAttribute("role", "status");
  line.setAttribute("aria-live", "polite");
  const button = (name) => element(doc, "button", { type: "button", className: `uploader-${name}`, textContent: labels[name] ?? name, hidden: true });
  const pause = button("pause");
  const resume = button("resume");
  const cancel = button("cancel");
  const panel = element(doc, "div", { className: "uploader-panel", hidden: true }, bar, line, element(doc, "p", { className: "uploader-buttons" }, pause, resume, cancel));
  host.append(panel);
  return { panel, bar, line, pause, resume, cancel };
}

/** Mount the uploader on its form. */
export function mount(host) {
  if (host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  const doc = host.ownerDocument;
  const win = doc.defaultView;
  const labels = JSON.parse(host.dataset.labels || "{}");
  const lang = host.dataset.lang || doc.documentElement.lang || "en";
  const maxSize = Number(host.dataset.maxSize) || Infinity;
  const chunkSize = Number(host.dataset.chunkSize) || DEFAULT_CHUNK_SIZE;
  const fileInput = host.querySelector('input[type="file"]');
  const submit = host.querySelector('button[type="submit"]');
  const ui = buildPanel(host, labels);
  const speed = speedMeter();
  const size = (bytes) => formatBytes(bytes, lang);
  let upload = null;
  let total = 0;
  let sentSoFar = 0;
  let waitingForNetwork = false;

  const show = (text, value = null) => {
    ui.panel.hidden = false;
    ui.line.textContent = text;
    if (value !== null) ui.bar.value = value;
  };
  const buttons = (state) => {
    ui.pause.hidden = state !== "running";
    ui.resume.hidden = state !== "paused";
    ui.cancel.hidden = state !== "running" && state !== "paused";
  };
  const finish = () => {
    buttons("done");
    submit.disabled = false;
    fileInput.disabled = false;
    upload = null;
  };

  const poll = async (url) => {
    for (;;) {
      let status = null;
      try {
        const response = await win.fetch(`${url}/status`, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (response.ok) status = await response.json();
      } catch {
        status = null; // a network blip: ask again
      }
      if (status) {
        const job = status.job ? labels.jobStates?.[status.job.state] ?? status.job.state : "";
        const text = {
          verifying: labels.verifying,
          complete: fill(labels.complete, { job, progress: status.job?.progress ?? 0, message: status.message }),
          failed: fill(labels.failed, { message: status.message }),
          terminated: labels.cancelled,
        }[status.state];
        if (text) show(text, 100);
        host.dataset.state = status.job && status.state === "complete" ? `complete-${status.job.state}` : status.state;
        if (settled(status)) return status;
      }
      await new Promise((resolve) => win.setTimeout(resolve, POLL_MS));
    }
  };

  const onProgress = (sent, length) => {
    sentSoFar = sent;
    speed.add(win.performance.now(), sent);
    show(
      fill(labels.uploading, { done: size(sent), total: size(length), percent: percent(sent, length), speed: fill(labels.rate, { size: size(speed.rate()) }) }),
      percent(sent, length),
    );
  };

  const onError = (error) => {
    const status = error.originalResponse?.getStatus?.() ?? 0;
    if (!win.navigator.onLine && shouldRetry(status)) {
      // Offline: continue from the server's offset as soon as the network is back.
      waitingForNetwork = true;
      host.dataset.state = "offline";
      buttons("paused");
      show(labels.offline);
      return;
    }
    const message = errorMessage(error.originalResponse?.getBody?.() ?? "") || error.message;
    host.dataset.state = "failed";
    show(fill(labels.failed, { message }));
    finish();
  };

  win.addEventListener("online", () => {
    if (waitingForNetwork && upload) {
      waitingForNetwork = false;
      host.dataset.state = "uploading";
      buttons("running");
      upload.start();
    }
  });

  const start = async (file) => {
    submit.disabled = true;
    fileInput.disabled = true;
    host.dataset.state = "hashing";
    show(fill(labels.hashing, { percent: 0 }), 0);
    const sha256 = await sha256OfFile(file, (done) => show(fill(labels.hashing, { percent: percent(done, file.size) }), percent(done, file.size)));
    const form = new win.FormData(host);
    total = file.size;
    upload = new tus.Upload(file, {
      endpoint: new URL(host.dataset.endpoint, doc.baseURI).href,
      chunkSize,
      retryDelays: RETRY_DELAYS,
      headers: { "X-CSRF-Token": host.dataset.csrf },
      metadata: uploadMetadata(file, sha256, { record: String(form.get("record") ?? ""), kind: String(form.get("kind") ?? "") }),
      removeFingerprintOnSuccess: true,
      onShouldRetry: (error) => shouldRetry(error.originalResponse?.getStatus?.() ?? 0) && win.navigator.onLine,
      onProgress,
      onError,
      onSuccess: async () => {
        buttons("done");
        host.dataset.state = "verifying";
        show(labels.verifying, 100);
        const url = upload.url;
        await poll(url);
        finish();
      },
    });
    const previous = await upload.findPreviousUploads();
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    host.dataset.state = "uploading";
    buttons("running");
    speed.reset();
    onProgress(0, total);
    upload.start();
  };

  host.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = fileInput.files?.[0];
    if (!file) {
      show(labels.noFile ?? "");
      return;
    }
    if (file.size > maxSize) {
      show(fill(labels.tooLarge, { limit: size(maxSize) }));
      return;
    }
    start(file).catch((error) => onError(error));
  });
  ui.pause.addEventListener("click", () => {
    if (!upload) return;
    upload.abort();
    host.dataset.state = "paused";
    buttons("paused");
    show(fill(labels.paused, { done: size(sentSoFar), total: size(total) }));
  });
  ui.resume.addEventListener("click", () => {
    if (!upload) return;
    waitingForNetwork = false;
    host.dataset.state = "uploading";
    buttons("running");
    speed.reset();
    upload.start();
  });
  ui.cancel.addEventListener("click", async () => {
    if (!upload) return;
    const current = upload;
    try {
      await current.abort(true);
    } catch {
      // the server may be unreachable: it deletes the part when the upload expires
    }
    host.dataset.state = "terminated";
    show(labels.cancelled, 0);
    finish();
  });
  return true;
}
