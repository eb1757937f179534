// The job-progress island: follows /admin/jobs/events (Server-Sent Events) and
// moves the progress bars and state badges of the server-rendered job list or
// job page. Without script, or when the stream is away, the page still shows
// each job's state at load with a refresh link. Every visible word comes from
// the host's data-attributes, translated by the server.

const FINAL_STATES = new Set(["succeeded", "failed"]);
const STATES = new Set(["queued", "running", "succeeded", "failed"]);

/** The update an event carries, or null when its data is not a job change. */
export function parseJobEvent(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (!data || typeof data.id !== "string" || !STATES.has(data.state)) return null;
  const progress = Math.max(0, Math.min(100, Math.round(Number(data.progress) || 0)));
  return {
    id: data.id,
    state: data.state,
    stateLabel: typeof data.state_label === "string" ? data.state_label : data.state,
    progress,
    message: typeof data.message === "string" ? data.message : "",
    attempts: Number.isInteger(data.attempts) ? data.attempts : 0,
    maxAttempts: Number.isInteger(data.max_attempts) ? data.max_attempts : 0,
    cancelRequested: data.cancel_requested === true,
  };
}

export function isFinal(state) {
  return FINAL_STATES.has(state);
}

export function percentText(progress) {
  return `${progress}%`;
}

export function attemptsText(update) {
  return `${update.attempts}/${update.maxAttempts}`;
}

export function badgeClass(state) {
  return `job-badge job-badge-${state}`;
}

function field(row, name) {
  return row.querySelector(`[data-field="${name}"]`);
}

/** Show ``update`` in one job's row (or the job page's facts). */
export function applyJobUpdate(row, update) {
  const badge = field(row, "state");
  if (badge) {
    badge.className = badgeClass(update.state);
    badge.textContent = update.stateLabel;
  }
  const bar = field(row, "progress");
  if (bar) {
    bar.value = update.progress;
    bar.textContent = percentText(update.progress);
  }
  const percent = field(row, "percent");
  if (percent) percent.textContent = percentText(update.progress);
  const message = field(row, "message");
  if (message) message.textContent = update.message;
  const attempts = field(row, "attempts");
  if (attempts) attempts.textContent = attemptsText(update);
  const cancel = field(row, "cancel");
  if (cancel) cancel.hidden = !(update.cancelRequested && update.state === "running");
  row.dataset.state = update.state;
}

function rowsFor(target, id) {
  const selector = `[data-job-id="${CSS.escape(id)}"]`;
  const rows = [...target.querySelectorAll(selector)];
  if (target.matches?.(selector)) rows.push(target);
  return rows;
}

export function mount(host) {
  if (host.dataset.mounted || typeof EventSource === "undefined") return false;
  host.dataset.mounted = "true";
  const doc = host.ownerDocument;
  const target = doc.querySelector(host.dataset.target) ?? doc.body;
  const text = host.querySelector('[data-role="text"]') ?? host;
  const say = (words) => {
    if (words) text.textContent = words;
  };
  const source = new EventSource(host.dataset.events);
  source.addEventListener("open", () => say(host.dataset.liveText));
  // EventSource reconnects by itself (the server sends retry:), resuming from Last-Event-ID.
  source.addEventListener("error", () => say(host.dataset.lostText));
  source.addEventListener("job", (event) => {
    const update = parseJobEvent(event.data);
    if (!update) return;
    const rows = rowsFor(target, update.id);
    if (rows.length === 0) {
      say(host.dataset.otherText);
      return;
    }
    for (const row of rows) {
      applyJobUpdate(row, update);
      if (row.dataset.follow && isFinal(update.state)) say(host.dataset.endedText);
    }
  });
  doc.defaultView?.addEventListener("pagehide", () => source.close(), { once: true });
  host.classList.add("job-live-on");
  return true;
}
