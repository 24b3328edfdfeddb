// Agentplane console: keeps a run's timeline live. The server renders every entry; this script
// only listens to the run's Server-Sent Events stream and asks the server for the new entries
// and the refreshed side panel, so there is one way an event looks, whether loaded or live.
"use strict";

(function () {
  const root = document.querySelector("[data-live-run]");
  if (!root) return;
  const runId = root.dataset.liveRun;
  const list = document.getElementById("timeline");
  const panel = document.getElementById("run-panel");
  const live = document.getElementById("live");
  const toggle = document.getElementById("show-muted");
  let lastSeq = parseInt(root.dataset.lastSeq || "0", 10);
  let busy = false;
  let again = false;

  function setState(state, text) {
    live.dataset.state = state;
    live.textContent = text;
  }

  async function fetchHtml(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.redirected && new URL(response.url).pathname === "/login") {
      window.location.href = response.url; // the session ended
      return null;
    }
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.text();
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  // The side panel holds forms people fill in (an approval's reason, a cancel's reason). A
  // refresh must never lose what they entered, wherever the focus is: the new panel is held back
  // while someone types in a text field or holds a button down, and when it goes in, it takes
  // the fields' entered values and the focus with it.
  let pendingPanel = null;
  let pressing = false;

  function keyOf(element) {
    const scope = element.closest("[data-wait], [data-step], form");
    const where = !scope ? "" : scope.dataset.wait ? `wait:${scope.dataset.wait}`
      : scope.dataset.step ? `step:${scope.dataset.step}` : `form:${scope.getAttribute("action") || ""}`;
    const what = element.getAttribute("name") || element.dataset.testid || "";
    if (!what) return null;
    return element.type === "radio" ? `${where}|${what}|${element.value}` : `${where}|${what}`;
  }

  function isTextField(element) {
    if (element instanceof HTMLTextAreaElement) return true;
    return element instanceof HTMLInputElement
      && !["hidden", "radio", "checkbox", "submit", "button", "reset"].includes(element.type);
  }

  function entered(container) {
    const kept = new Map();
    for (const field of container.querySelectorAll("input, textarea, select")) {
      const key = keyOf(field);
      if (key === null || field.type === "hidden") continue;
      if (field.type === "radio" || field.type === "checkbox") {
        if (field.checked !== field.defaultChecked) kept.set(key, { checked: field.checked });
      } else if (field instanceof HTMLSelectElement) {
        kept.set(key, { value: field.value });
      } else if (field.value !== field.defaultValue) {
        kept.set(key, { value: field.value });
      }
    }
    return kept;
  }

  function swapPanel() {
    if (pendingPanel === null || !panel) return;
    const active = panel.contains(document.activeElement) ? document.activeElement : null;
    if (pressing || (active && isTextField(active))) return; // after the click, or the typing
    const kept = entered(panel);
    const focusKey = active ? keyOf(active) : null;
    const fresh = parse(pendingPanel);
    pendingPanel = null;
    for (const field of fresh.querySelectorAll("input, textarea, select")) {
      const value = kept.get(keyOf(field) || "");
      if (!value || field.type === "hidden") continue;
      if ("checked" in value) field.checked = value.checked;
      else field.value = value.value;
    }
    panel.replaceChildren(fresh);
    if (focusKey !== null) {
      const target = Array.from(panel.querySelectorAll("input, textarea, select, button"))
        .find((element) => keyOf(element) === focusKey);
      if (target) target.focus({ preventScroll: true });
    }
  }

  if (panel) {
    panel.addEventListener("pointerdown", () => { pressing = true; });
    // After the click has been handled (a submit reads its form at once), not before it.
    const release = () => { pressing = false; setTimeout(swapPanel, 0); };
    document.addEventListener("pointerup", release);
    document.addEventListener("pointercancel", release);
    panel.addEventListener("focusout", () => setTimeout(swapPanel, 0));
  }

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const entries = await fetchHtml(`/console/runs/${encodeURIComponent(runId)}/timeline?after=${lastSeq}`);
      if (entries !== null) {
        for (const item of Array.from(parse(entries).children)) {
          const seq = parseInt(item.dataset.seq || "0", 10);
          if (seq <= lastSeq) continue;
          item.classList.add("fresh");
          list.appendChild(item);
          lastSeq = seq;
        }
        root.dataset.lastSeq = String(lastSeq);
      }
      const side = await fetchHtml(`/console/runs/${encodeURIComponent(runId)}/panel`);
      if (side !== null && panel) {
        pendingPanel = side;
        swapPanel();
      }
    } catch (error) {
      setState("error", "update failed; retrying");
      console.warn(error);
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  let timer = null;
  function soon() {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; refresh(); }, 60);
  }

  function connect() {
    // named=false: every event arrives as a plain message, whatever its type (a2a.task.*,
    // types added later), so one listener sees them all.
    const source = new EventSource(
      `/api/v1/runs/${encodeURIComponent(runId)}/stream?after=${lastSeq}&named=false`);
    source.onopen = () => { setState("open", "live"); soon(); };
    source.onerror = () => setState("error", "reconnecting…");
    source.onmessage = soon;
  }

  if (toggle) {
    const apply = () => list.classList.toggle("hide-muted", !toggle.checked);
    toggle.addEventListener("change", apply);
    apply();
  }
  connect();
})();
