// The copy-text island: a button that copies a piece of the page (a record's
// citation) to the clipboard and says so in a live region. Without script the
// text is still on the page to select; the button only exists where it can work.
//
// Host markup (server/templates/_record_more.html):
//   <div data-island="copy-text" data-target="#citation-text"
//        data-label="Copy the citation" data-done="Copied" data-failed="…"></div>

async function copy(doc, text) {
  if (doc.defaultView.navigator.clipboard?.writeText) {
    await doc.defaultView.navigator.clipboard.writeText(text);
    return;
  }
  // Older browsers, and pages without a secure connection: copy a temporary selection.
  const area = doc.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "visually-hidden";
  doc.body.append(area);
  area.select();
  const copied = doc.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

/** Mount one island; returns false when its target is missing or it is mounted already. */
export function mountCopyText(host) {
  const doc = host.ownerDocument;
  const target = doc.querySelector(host.dataset.target);
  if (!target || host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  const button = doc.createElement("button");
  button.type = "button";
  button.className = "copy-button";
  button.textContent = host.dataset.label ?? "";
  const status = doc.createElement("span");
  status.className = "copy-status";
  status.setAttribute("role", "status");
  host.replaceChildren(button, status);
  button.addEventListener("click", async () => {
    status.textContent = "";
    try {
      await copy(doc, target.textContent.trim());
      status.textContent = host.dataset.done ?? "";
    } catch {
      status.textContent = host.dataset.failed ?? "";
    }
  });
  return true;
}
