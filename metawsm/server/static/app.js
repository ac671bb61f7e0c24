// metawsm web UI: API forms, live updates over the forum WebSocket, partial page refreshes.
// No framework, no build step. Data reaches the DOM only as server-escaped HTML or through textContent.
"use strict";

(function () {
  const page = document.getElementById("page");
  const live = page ? JSON.parse(page.dataset.live || "{}") : {};
  const status = document.getElementById("live-status");
  const flash = document.getElementById("flash");

  // -- messages ------------------------------------------------------------------------------
  let flashTimer = null;
  function say(text, kind) {
    if (!flash) return;
    flash.textContent = text;
    flash.className = "flash " + (kind || "info");
    flash.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { flash.hidden = true; }, kind === "error" ? 8000 : 3000);
  }

  // -- API calls -----------------------------------------------------------------------------
  function csrfToken() {  // bound to this browser's session cookie; the daemon refuses writes without it
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function api(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      credentials: "same-origin",
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (resp.status === 401) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new Error("sign in first");
    }
    if (!resp.ok) {
      const err = data && data.error ? data.error : {};
      const detail = err.message || (data && data.detail ? JSON.stringify(data.detail) : resp.statusText);
      throw new Error((err.code ? err.code + ": " : "") + detail);
    }
    return data || {};
  }

  function formBody(form) {
    const body = {};
    for (const [key, value] of new FormData(form).entries()) {
      if (typeof value !== "string") continue;
      if (value === "" && key !== "body") continue;  // optional fields left empty are not sent
      body[key] = value;
    }
    return body;
  }

  async function submit(form, submitter) {
    const url = (submitter && submitter.dataset.api) || form.dataset.api;
    const question = form.dataset.confirm;
    if (question && !window.confirm(question)) return;
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    form.classList.add("busy");
    try {
      const data = await api(url, formBody(form));
      const after = form.dataset.after || "refresh";
      if (after === "goto-thread" && data.thread) {
        const viewer = form.dataset.viewer;
        location.assign((document.body.dataset.base || "") + "/forum/threads/" +
          encodeURIComponent(data.thread.thread_id) +
          (viewer ? "?viewer=" + encodeURIComponent(viewer) : ""));
        return;
      }
      if (after.startsWith("reset")) form.reset();
      form.querySelectorAll("textarea").forEach((t) => { t.value = ""; });
      settle(form);  // what was just applied is no longer the person's edit
      say("Done.", "ok");
      await refresh(true);  // resolves once a read begun after the action is on the page
    } catch (err) {
      say(err.message || String(err), "error");
    } finally {
      form.classList.remove("busy");
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    ev.preventDefault();
    submit(form, ev.submitter);
  });

  // Click an attach command to copy it.
  document.addEventListener("click", (ev) => {
    const code = ev.target.closest && ev.target.closest("code.copy");
    if (!code || !navigator.clipboard) return;
    navigator.clipboard.writeText(code.textContent).then(() => say("Copied.", "ok"), () => {});
  });

  // -- partial refresh -----------------------------------------------------------------------
  // Re-read this page from the server and swap each [data-region] whose content changed, unless
  // the person is typing in it (then it waits for the next refresh). A forced refresh (an action's
  // own result) swaps such a region too, but carries the person's edits — every field changed since
  // it was rendered, and the focus — into the fresh copy: a refresh never changes what someone chose.
  const FIELDS = "textarea, input:not([type=hidden]), select";

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      const initial = Array.from(field.options).findIndex((o) => o.defaultSelected);
      return field.selectedIndex !== Math.max(initial, 0);
    }
    return field.value !== field.defaultValue;
  }

  function settle(form) {  // the form's current values become its defaults
    for (const field of form.querySelectorAll(FIELDS)) {
      if (field.type === "checkbox" || field.type === "radio") { field.defaultChecked = field.checked; continue; }
      if (field.tagName !== "SELECT") { field.defaultValue = field.value; continue; }
      const chosen = field.selectedIndex;
      Array.from(field.options).forEach((o, i) => { o.defaultSelected = i === chosen; });
      field.selectedIndex = chosen;
    }
  }

  // A field's identity across renders: its form (id or API) and its name.
  function controlKey(el) {
    const form = el.form || el.closest("form");
    const owner = form ? (form.id || form.dataset.api || form.getAttribute("action") || "") : "";
    const name = el.name || el.id || "";
    return name ? owner + "\n" + name + (el.type === "checkbox" || el.type === "radio" ? "=" + el.value : "") : "";
  }

  function keyed(region, selector) {  // key → element, for keys that name exactly one element
    const found = new Map();
    for (const el of region.querySelectorAll(selector)) {
      const key = controlKey(el);
      if (key) found.set(key, found.has(key) ? null : el);
    }
    return found;
  }

  function edits(region) {  // what the person changed in `region` since it was rendered, and where the focus is
    const kept = [];
    for (const [key, field] of keyed(region, FIELDS)) {
      if (!field || !changed(field)) continue;
      kept.push([key, field.type === "checkbox" || field.type === "radio" ? field.checked : field.value]);
    }
    const active = document.activeElement;  // a field being edited keeps the focus (a pressed button need not)
    const focus = active && active.matches(FIELDS) && region.contains(active) ? controlKey(active) : "";
    const caret = focus && typeof active.selectionStart === "number";
    const range = caret ? [active.selectionStart, active.selectionEnd] : null;
    return { kept: kept, focus: focus, range: range };
  }

  function carry(region, was) {  // put `was` (from `edits`) into the fresh `region`, where it still fits
    const fields = keyed(region, FIELDS);
    for (const [key, value] of was.kept) {
      const field = fields.get(key);
      if (!field) continue;  // gone or ambiguous in the fresh copy
      if (typeof value === "boolean") field.checked = value;
      else if (field.tagName !== "SELECT" || Array.from(field.options).some((o) => o.value === value)) {
        field.value = value;  // a choice the fresh copy no longer offers is dropped
      }
    }
    if (!was.focus) return;
    const target = keyed(region, FIELDS).get(was.focus);
    if (!target) return;
    target.focus({ preventScroll: true });
    if (was.range) { try { target.setSelectionRange(was.range[0], was.range[1]); } catch (e) { /* no caret here */ } }
  }

  function busy(region) {
    if (region.contains(document.activeElement) && document.activeElement !== document.body) return true;
    for (const field of region.querySelectorAll(FIELDS)) {
      if (changed(field)) return true;
    }
    return region.querySelector("form.busy") !== null;
  }

  async function read(force) {
    try {
      const resp = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!resp.ok) return;
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      for (const fresh of doc.querySelectorAll("[data-region][id]")) {
        const old = document.getElementById(fresh.id);
        if (!old || old.isEqualNode(fresh)) continue;
        if (!force && busy(old)) continue;  // the next event or poll tries again
        if (old.tagName === "DETAILS") fresh.open = old.open;
        const was = edits(old);
        const region = document.adoptNode(fresh);
        old.replaceWith(region);
        carry(region, was);
      }
      markSeen();
      agentNotes();
    } catch (e) {
      /* the next event or poll retries */
    }
  }

  // One read at a time. A refresh asked for during a read is queued (asks made meanwhile join it; forced if any
  // was): its promise resolves only after a read begun after the ask — an action awaits its own result, never an
  // older read still in flight.
  let refreshing = null;
  let queued = null;
  function refresh(force) {
    if (!refreshing) {
      refreshing = read(!!force).finally(() => { refreshing = null; });
      return refreshing;
    }
    if (queued) { queued.force = queued.force || !!force; return queued.promise; }
    const next = { force: !!force };
    next.promise = refreshing.then(() => {
      queued = null;
      return refresh(next.force);
    });
    queued = next;
    return next.promise;
  }

  let pending = null;
  function soon() {
    clearTimeout(pending);
    pending = setTimeout(() => refresh(false), 60);
  }

  // -- read marks (thread page) --------------------------------------------------------------
  let seenSeq = 0;
  function markSeen() {
    const who = document.getElementById("viewer");
    const head = document.getElementById("thread-head");
    if (!who || !head || !live.thread_id) return;
    const seq = parseInt(head.dataset.seq || "0", 10);
    if (!(seq > seenSeq)) return;
    seenSeq = seq;
    api("/api/v1/forum/threads/" + encodeURIComponent(live.thread_id) + "/seen", {
      viewer_type: who.dataset.kind, viewer_id: who.dataset.name, last_seen_event_sequence: seq,
    }).catch(() => {});
  }

  // -- WebSocket -----------------------------------------------------------------------------
  let cursor = live.cursor || 0;
  let delay = 500;
  function setStatus(text, on) {
    if (!status) return;
    status.textContent = text;
    status.className = "live " + (on ? "on" : "off");
  }

  // Events arrive in the Go metawsm's shape: {sequence, envelope: {event_type, thread_id, …}, payload_json}.
  function relevant(events) {
    return events.some((e) => e && e.envelope && e.envelope.event_type !== "forum.thread.seen" &&
      (!live.thread_id || e.envelope.thread_id === live.thread_id));
  }

  // -- live agent screens (run page) ---------------------------------------------------------
  // A screen is watched (screen.subscribe on the stream) only while it is on screen and the tab is visible;
  // frames carry the screen as server-escaped HTML.
  let socket = null;
  const cards = Array.from(document.querySelectorAll(".screen-card[data-screen-agent]"));
  const shown = new Set();
  const watching = new Set();
  function screenMsg(type, card) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify({ type: type, run_id: live.run_id, ticket: card.dataset.screenTicket,
      agent: card.dataset.screenAgent }));
    return true;
  }
  function syncScreens() {
    const visible = document.visibilityState === "visible";
    for (const card of cards) {
      const want = visible && shown.has(card);
      if (want && !watching.has(card)) { if (screenMsg("screen.subscribe", card)) watching.add(card); }
      else if (!want && watching.has(card)) { screenMsg("screen.unsubscribe", card); watching.delete(card); }
    }
  }
  if (cards.length && "IntersectionObserver" in window) {
    const seen = new IntersectionObserver((entries) => {
      for (const e of entries) { if (e.isIntersecting) shown.add(e.target); else shown.delete(e.target); }
      syncScreens();
    });
    cards.forEach((c) => seen.observe(c));
    document.addEventListener("visibilitychange", syncScreens);
  }
  function showScreen(frame) {
    const card = cards.find((c) => c.dataset.screenTicket === frame.ticket && c.dataset.screenAgent === frame.agent);
    const pre = card && card.querySelector("pre.screen");
    if (!pre || !frame.screen) return;
    if (frame.screen.alive) { pre.innerHTML = frame.screen.html; pre.dataset.state = "live"; }
    else { pre.textContent = "(its session is not running)"; pre.dataset.state = "gone"; }
  }

  // -- browser notifications (opt-in, remembered in this browser) -----------------------------
  const toggle = document.getElementById("notify-toggle");
  const notifyKey = "metawsm-notify";
  function notifying() {
    return toggle && toggle.checked && "Notification" in window && Notification.permission === "granted";
  }
  function notify(title, body) {
    if (!notifying()) return;
    try { new Notification(title, { body: body, tag: title }); } catch (e) { /* not allowed here */ }
  }
  if (toggle) {
    toggle.checked = localStorage.getItem(notifyKey) === "1";
    toggle.addEventListener("change", async () => {
      if (toggle.checked && "Notification" in window && Notification.permission === "default") {
        await Notification.requestPermission();
      }
      if (toggle.checked && !("Notification" in window && Notification.permission === "granted")) {
        toggle.checked = false;
        say("This browser does not allow notifications from this page.", "error");
      }
      localStorage.setItem(notifyKey, toggle.checked ? "1" : "0");
    });
  }
  function signalNotes(events) {
    for (const e of events) {
      if (!e || !e.envelope || e.envelope.event_type !== "forum.control.signal") continue;
      let p = e.payload_json;
      try { if (typeof p === "string") p = JSON.parse(p); } catch (err) { continue; }
      if (!p || !e.envelope.agent_name || String(e.envelope.agent_name).endsWith("/checks")) continue;
      if (p.control_type === "guidance_request") notify(e.envelope.agent_name + " asks", String(p.question || ""));
      if (p.control_type === "completion") notify(e.envelope.agent_name + " finished", String(p.summary || ""));
    }
  }
  const agentStates = new Map();
  function agentNotes() {  // failures show in the agents table (no forum event says so)
    for (const row of document.querySelectorAll("#agents tr[data-agent]")) {
      const badge = row.querySelector("td[data-label=Status] .badge");
      const state = badge ? badge.textContent.trim() : "";
      const before = agentStates.get(row.dataset.agent);
      agentStates.set(row.dataset.agent, state);
      if (before !== undefined && before !== state && (state === "failed" || state === "dead")) {
        notify(row.dataset.agent + " " + state, "run " + (live.run_id || ""));
      }
    }
  }
  agentNotes();

  function connect() {
    const params = new URLSearchParams();
    if (live.ticket) params.set("ticket", live.ticket);
    if (live.run_id) params.set("run_id", live.run_id);
    params.set("cursor", String(cursor));
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(scheme + "//" + location.host + "/api/v1/forum/stream?" + params.toString());
    } catch (e) {
      setTimeout(connect, delay);
      return;
    }
    socket = ws;
    ws.onopen = () => { delay = 500; setStatus("live", true); watching.clear(); syncScreens(); };
    ws.onmessage = (msg) => {
      let frame;
      try { frame = JSON.parse(msg.data); } catch (e) { return; }
      if (frame.type === "agent.screen") { showScreen(frame); return; }
      if (typeof frame.next_cursor === "number" && frame.next_cursor > cursor) cursor = frame.next_cursor;
      if (frame.type === "forum.events" && Array.isArray(frame.events)) {
        signalNotes(frame.events);
        if (relevant(frame.events)) soon();
      }
    };
    ws.onclose = () => {
      watching.clear();
      setStatus("reconnecting", false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  if (page && page.dataset.live && live.cursor !== undefined) {
    connect();
    markSeen();
    // Agent health and step status change without forum events; re-read them now and then.
    if (live.poll) {
      setInterval(() => { if (document.visibilityState === "visible") refresh(false); }, live.poll * 1000);
    }
  }
})();
