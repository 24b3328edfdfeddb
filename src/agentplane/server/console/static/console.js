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
        // Keep a reason someone is typing into an approval or cancel form.
        const typing = panel.contains(document.activeElement) && document.activeElement.value;
        if (!typing) panel.replaceChildren(parse(side));
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
