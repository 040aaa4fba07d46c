// iShowTTS web page, the chat rules card and the moderator buttons: which messages are read aloud
// (triggers), banned users, per-user voices; skip / pause / resume / clear. Everything goes through the
// REST routes (docs/danmaku.md): POST /api/danmaku/control, GET/PUT /api/danmaku/settings,
// GET /api/danmaku/voices, PUT/DELETE /api/danmaku/voices/{login}. Loaded after app.js, whose helpers
// (api, apiJson, showError, clearError, queue) it uses through window.ishowtts.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const app = window.ishowtts;
  const TRIGGER_KEYS = ["triggers", "min_bits", "reward_ids", "trigger_badges", "command_prefix"];
  const list = (raw) => raw.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  const login = (raw) => raw.trim().replace(/^@/, "").toLowerCase();

  // ---------------------------------------------------------------- moderation
  let paused = false;

  async function control(action, user) {
    app.clearError();
    const body = user ? { action, user } : { action };
    try {
      return await app.apiJson("/api/danmaku/control", { method: "POST", json: body });
    } catch (err) {
      if (action === "skip" && (err.status === 404 || err.status === 405)) {
        app.queue.skip(); // a server without the control route: at least this page stops
        return null;
      }
      app.showError(err);
      return null;
    } finally {
      app.refreshStatus();
    }
  }

  function showPaused(p) {
    paused = p;
    $("dm-pause").textContent = p ? "Resume" : "Pause";
    $("dm-pause").title = p ? "Read chat aloud again" : "Hold chat read-aloud; queued lines wait";
  }

  function showBanned(names) {
    const ul = $("ban-list");
    ul.innerHTML = "";
    for (const name of names) {
      const li = document.createElement("li");
      li.textContent = name;
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "unban";
      b.setAttribute("aria-label", `unban ${name}`);
      b.addEventListener("click", () => control("unban", name));
      li.appendChild(b);
      ul.appendChild(li);
    }
  }

  async function banFromForm(action) {
    const user = login($("ban-user").value);
    if (!user) {
      app.showError("Type the user's Twitch login first.");
      return;
    }
    const res = await control(action, user);
    if (res !== null) $("ban-user").value = "";
  }

  // ---------------------------------------------------------------- triggers
  function fillTriggers(s) {
    const on = new Set(s.triggers || []);
    for (const box of document.querySelectorAll("#tr-form [data-trigger]")) box.checked = on.has(box.dataset.trigger);
    const badges = new Set(s.trigger_badges || []);
    for (const box of document.querySelectorAll("#tr-form [data-badge]")) box.checked = badges.has(box.dataset.badge);
    $("tr-min-bits").value = s.min_bits ?? "";
    $("tr-reward-ids").value = (s.reward_ids || []).join(", ");
    $("tr-prefix").value = s.command_prefix || "";
  }

  function triggersFromForm() {
    const checked = (sel, key) => [...document.querySelectorAll(sel)].filter((b) => b.checked).map((b) => b.dataset[key]);
    const body = {
      triggers: checked("#tr-form [data-trigger]", "trigger"),
      trigger_badges: checked("#tr-form [data-badge]", "badge"),
      reward_ids: list($("tr-reward-ids").value),
      command_prefix: $("tr-prefix").value.trim(),
    };
    const bits = $("tr-min-bits").value.trim();
    if (bits !== "") body.min_bits = Number(bits);
    return body;
  }

  async function loadTriggers() {
    try {
      fillTriggers(await app.apiJson("/api/danmaku/settings"));
      $("tr-saved").textContent = "";
    } catch (err) {
      $("tr-saved").textContent = `triggers unavailable: ${err.message}`;
    }
  }

  async function saveTriggers(ev) {
    ev.preventDefault();
    app.clearError();
    const body = triggersFromForm();
    if (!body.triggers.length) {
      app.showError("Pick at least one trigger (\"All chat\" reads everything).");
      return;
    }
    try {
      const res = await app.apiJson("/api/danmaku/settings", { method: "PUT", json: body });
      if (res && typeof res === "object" && TRIGGER_KEYS.some((k) => k in res)) fillTriggers(res);
      $("tr-saved").textContent = `saved ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      app.showError(err);
    }
  }

  // ---------------------------------------------------------------- per-user voices
  async function loadUserVoices() {
    let data;
    let voices = [];
    try {
      [data, voices] = await Promise.all([app.apiJson("/api/danmaku/voices"), app.apiJson("/api/voices")]);
    } catch (err) {
      $("uv-info").textContent = `voices per user unavailable: ${err.message}`;
      return;
    }
    const sel = $("uv-voice");
    const keep = sel.value;
    sel.innerHTML = "";
    for (const v of voices) {
      const o = document.createElement("option");
      o.value = v.id;
      o.textContent = v.id;
      sel.appendChild(o);
    }
    if (voices.some((v) => v.id === keep)) sel.value = keep;
    const info = [`default: ${data.default || "server default"}`];
    if (data.pool && data.pool.length) info.push(`unassigned users get one of: ${data.pool.join(", ")}`);
    info.push(data.allowed && data.allowed.length ? `!voice may pick: ${data.allowed.join(", ")}` : "!voice is off");
    $("uv-info").textContent = info.join(" · ");
    const body = $("uv-list");
    body.innerHTML = "";
    const rows = Object.entries(data.assignments || {}).sort(([a], [b]) => a.localeCompare(b));
    for (const [user, voice] of rows) {
      const tr = document.createElement("tr");
      tr.dataset.user = user;
      for (const text of [user, voice]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "remove";
      b.setAttribute("aria-label", `remove the voice of ${user}`);
      b.addEventListener("click", () => removeUserVoice(user));
      td.appendChild(b);
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  async function assignUserVoice(ev) {
    ev.preventDefault();
    app.clearError();
    const user = login($("uv-user").value);
    if (!user) {
      app.showError("Type the user's Twitch login first.");
      return;
    }
    try {
      await app.apiJson(`/api/danmaku/voices/${encodeURIComponent(user)}`, {
        method: "PUT",
        json: { voice: $("uv-voice").value },
      });
      $("uv-user").value = "";
      await loadUserVoices();
    } catch (err) {
      app.showError(err);
    }
  }

  async function removeUserVoice(user) {
    app.clearError();
    try {
      await app.apiJson(`/api/danmaku/voices/${encodeURIComponent(user)}`, { method: "DELETE" });
      await loadUserVoices();
    } catch (err) {
      app.showError(err);
    }
  }

  // ---------------------------------------------------------------- wiring
  function init() {
    $("dm-skip").addEventListener("click", () => control("skip"));
    $("dm-pause").addEventListener("click", () => control(paused ? "resume" : "pause"));
    $("dm-clear").addEventListener("click", () => control("clear"));
    $("ban-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      banFromForm("ban");
    });
    $("ban-remove").addEventListener("click", () => banFromForm("unban"));
    $("tr-form").addEventListener("submit", saveTriggers);
    $("uv-form").addEventListener("submit", assignUserVoice);
    document.addEventListener("ishowtts:status", (ev) => {
      const st = ev.detail;
      if (typeof st.paused === "boolean") showPaused(st.paused);
      if (Array.isArray(st.banned)) showBanned(st.banned);
    });
    document.addEventListener("ishowtts:state", (ev) => showPaused(!!ev.detail.paused));
    document.addEventListener("ishowtts:key", () => {
      loadTriggers();
      loadUserVoices();
    });
    if (new URLSearchParams(location.search).get("overlay") === "1") return;
    loadTriggers();
    loadUserVoices();
  }

  app.chatRules = { loadTriggers, loadUserVoices, control };
  init();
})();
