// iShowTTS web page: TTS box with history, live chat read-aloud player, voice settings, health.
// Plain browser JavaScript, no build step. The chat player and its channel are player.js (shared with the
// OBS overlay); the chat rules card (triggers, bans, per-user voices) is chat_rules.js. Talks to the server's /api/* routes; when an API key is set
// (stored in localStorage) it goes out as "Authorization: Bearer <key>" (and ?api_key= on the WebSocket,
// which cannot carry headers).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = "ishowtts.apiKey";
  const HISTORY_STORE = "ishowtts.history";
  const VOICE_STORE = "ishowtts.voice";
  const HISTORY_MAX = 20;
  const LOG_MAX = 200;
  const params = new URLSearchParams(location.search);
  const overlay = params.get("overlay") === "1";

  // ---------------------------------------------------------------- API + errors
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function apiKey() {
    return localStorage.getItem(KEY_STORE) || "";
  }

  function messageFrom(status, body, fallback) {
    if (body && typeof body === "object") {
      if (typeof body.detail === "string") return body.detail;
      if (Array.isArray(body.detail)) {
        return body.detail
          .map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".") || "request"}: ${d.msg}`)
          .join("; ");
      }
      if (body.error && body.error.message) return body.error.message;
    }
    return fallback || `HTTP ${status}`;
  }

  async function api(path, opts = {}) {
    const headers = new Headers(opts.headers || {});
    const key = apiKey();
    if (key) headers.set("Authorization", `Bearer ${key}`);
    if (opts.json !== undefined) {
      headers.set("Content-Type", "application/json");
      opts.body = JSON.stringify(opts.json);
    }
    let res;
    try {
      res = await fetch(path, { method: opts.method || "GET", headers, body: opts.body });
    } catch (err) {
      throw new ApiError(0, `cannot reach the server (${err.message})`);
    }
    if (!res.ok) {
      let body = null;
      try {
        body = await res.json();
      } catch (_) {
        body = null;
      }
      let msg = messageFrom(res.status, body, res.statusText);
      if (res.status === 401) msg += " — set the API key at the top right";
      if (res.status === 429) msg += ` (retry after ${res.headers.get("Retry-After") || "?"} s)`;
      throw new ApiError(res.status, `${res.status}: ${msg}`);
    }
    return res;
  }

  async function apiJson(path, opts) {
    const res = await api(path, opts);
    if (res.status === 204) return null;
    return res.json();
  }

  function showError(err) {
    const text = err instanceof Error ? err.message : String(err);
    $("error-text").textContent = text;
    $("error").hidden = false;
  }

  function clearError() {
    $("error").hidden = true;
    $("error-text").textContent = "";
  }

  const { ClipPlayer, connect, b64ToBlob, sourceActive } = window.IShowPlayer;

  function playElement(el) {
    const p = el.play();
    if (p && typeof p.catch === "function") {
      p.catch((err) => {
        if (err && err.name === "NotAllowedError") {
          $("audio-unlock").hidden = false;
        } else if (err && err.name !== "AbortError") {
          showError(`cannot play audio: ${err.message}`);
        }
      });
    }
  }

  // ---------------------------------------------------------------- health
  async function loadHealth() {
    const pill = $("health");
    try {
      const res = await fetch("/api/health");
      const h = await res.json();
      const parts = [h.engine_label || h.engine];
      if (h.device) parts.push(h.device);
      if (h.dtype) parts.push(h.dtype);
      if (h.ready === false) parts.push("warming up");
      if (h.fallback) {
        const why = h.fallback_reason || "no F5 weights";
        parts.push(`fallback: ${why}`); // the whole reason: it is one short line, cut it and it misleads
      }
      pill.textContent = parts.join(" · ");
      pill.className = "pill " + (h.fallback ? "pill-warn" : h.ready === false ? "pill-warn" : "pill-ok");
      pill.title = h.fallback
        ? `Fallback engine in use: ${h.fallback_reason || "no F5 weights"}`
        : `model: ${h.model || "?"}, voices: ${h.voices}, default voice: ${h.default_voice}`;
    } catch (err) {
      pill.textContent = "server unreachable";
      pill.className = "pill pill-bad";
      pill.title = String(err);
    }
  }

  // ---------------------------------------------------------------- voices
  let voices = [];

  async function loadVoices() {
    try {
      voices = await apiJson("/api/voices");
    } catch (err) {
      showError(err);
      return;
    }
    const sel = $("voice");
    const dm = $("dm-voice");
    const keep = sel.value || localStorage.getItem(VOICE_STORE) || "";
    const keepDm = dm.value;
    sel.innerHTML = "";
    dm.innerHTML = "";
    const def = document.createElement("option");
    def.value = "";
    def.textContent = "chat voice: server default";
    dm.appendChild(def);
    for (const v of voices) {
      const label = `${v.id} (${v.engine_label || v.engine}${v.language ? ", " + v.language : ""})`;
      const o = document.createElement("option");
      o.value = v.id;
      o.textContent = label;
      sel.appendChild(o);
      const o2 = document.createElement("option");
      o2.value = v.id;
      o2.textContent = `chat voice: ${v.id}`;
      dm.appendChild(o2);
    }
    if (voices.some((v) => v.id === keep)) sel.value = keep;
    if (voices.some((v) => v.id === keepDm)) dm.value = keepDm;
    if (!overlay) loadReference();
  }

  // ---------------------------------------------------------------- TTS + history
  function ttsRequest() {
    const body = { text: $("tts-text").value.trim() };
    const voice = $("voice").value;
    if (voice) body.voice_id = voice;
    const num = (id) => {
      const raw = $(id).value.trim();
      return raw === "" ? null : Number(raw);
    };
    const speed = num("p-speed");
    if (speed !== null) body.speed = speed;
    const nfe = num("p-nfe");
    if (nfe !== null) body.nfe_step = Math.round(nfe);
    const cfg = num("p-cfg");
    if (cfg !== null) body.cfg_strength = cfg;
    const sway = num("p-sway");
    if (sway !== null) body.sway_sampling_coef = sway;
    const seed = num("p-seed");
    if (seed !== null) body.seed = Math.round(seed);
    if ($("p-remove-silence").checked) body.remove_silence = true;
    return body;
  }

  async function speak(body) {
    clearError();
    if (!body.text) {
      showError("Type some text first.");
      return;
    }
    const btn = $("speak");
    btn.disabled = true;
    btn.textContent = "Speaking…";
    try {
      const res = await apiJson("/api/tts", { method: "POST", json: body });
      const blob = b64ToBlob(res.audio_base64, res.format || "audio/wav");
      playTts(blob);
      // what was spoken, when normalization changed it (numbers, dates, links, emoji ...)
      const spoken = $("spoken-text");
      spoken.textContent = `Spoken as: ${res.spoken_text}`;
      spoken.hidden = !res.spoken_text || res.spoken_text === body.text.trim();
      addHistory({
        id: res.request_id,
        text: body.text,
        voice_id: res.voice_id,
        engine_label: res.engine_label,
        request: body,
        created_at: new Date().toISOString(),
        seconds: res.waveform_len / res.sample_rate,
        audio_base64: res.audio_base64,
      });
    } catch (err) {
      showError(err);
    } finally {
      btn.disabled = false;
      btn.textContent = "Speak";
    }
  }

  let ttsUrl = null;
  function playTts(blob) {
    const el = $("tts-audio");
    if (ttsUrl) URL.revokeObjectURL(ttsUrl);
    ttsUrl = URL.createObjectURL(blob);
    el.src = ttsUrl;
    playElement(el);
  }

  function readHistory() {
    try {
      const h = JSON.parse(localStorage.getItem(HISTORY_STORE) || "[]");
      return Array.isArray(h) ? h : [];
    } catch (_) {
      return [];
    }
  }

  function writeHistory(items) {
    // Audio is kept while it fits in localStorage; older entries lose their audio first (replay then
    // synthesises again with the same parameters).
    for (;;) {
      try {
        localStorage.setItem(HISTORY_STORE, JSON.stringify(items));
        return;
      } catch (_) {
        const victim = [...items].reverse().find((e) => e.audio_base64);
        if (!victim) {
          localStorage.removeItem(HISTORY_STORE);
          return;
        }
        delete victim.audio_base64;
      }
    }
  }

  function addHistory(entry) {
    const items = readHistory();
    items.unshift(entry);
    writeHistory(items.slice(0, HISTORY_MAX));
    renderHistory();
  }

  function renderHistory() {
    const ul = $("history");
    ul.innerHTML = "";
    for (const e of readHistory()) {
      const li = document.createElement("li");
      li.dataset.id = e.id;
      const text = document.createElement("span");
      text.className = "h-text";
      text.textContent = e.text;
      text.title = `${e.voice_id} · ${new Date(e.created_at).toLocaleString()}`;
      li.appendChild(text);
      const mk = (label, fn, cls) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = label;
        b.className = cls;
        b.addEventListener("click", fn);
        li.appendChild(b);
      };
      mk("Replay", () => (e.audio_base64 ? playTts(b64ToBlob(e.audio_base64, "audio/wav")) : speak(e.request)), "h-replay");
      if (e.audio_base64) {
        mk("Download", () => {
          const a = document.createElement("a");
          a.href = URL.createObjectURL(b64ToBlob(e.audio_base64, "audio/wav"));
          a.download = `ishowtts-${e.id}.wav`;
          a.click();
          setTimeout(() => URL.revokeObjectURL(a.href), 5000);
        }, "h-download");
      }
      mk("Copy", async () => {
        try {
          await navigator.clipboard.writeText(e.text);
        } catch (err) {
          showError(`cannot copy: ${err.message}`);
        }
      }, "h-copy");
      ul.appendChild(li);
    }
  }

  // ---------------------------------------------------------------- danmaku playback queue
  // One <audio> element plays clips strictly one after another (player.js): a new clip is appended to
  // the queue and never interrupts the one playing; the server's control events act on it at once.
  const queue = new ClipPlayer($("dm-audio"), {
    onChange: (p) => {
      renderQueue();
      showNowPlaying(p.current ? p.current.header : null);
      $("dm-paused").hidden = !p.paused;
    },
    onError: showError,
    onBlocked: () => ($("audio-unlock").hidden = false),
  });

  function userSpan(header) {
    const s = document.createElement("span");
    s.className = "user";
    s.style.color = /^#[0-9a-fA-F]{6}$/.test(header.color || "") ? header.color : "";
    s.textContent = header.username;
    return s;
  }

  function showNowPlaying(header) {
    const np = $("now-playing");
    const ov = $("overlay");
    np.innerHTML = "";
    ov.innerHTML = "";
    if (!header) {
      const m = document.createElement("span");
      m.className = "muted";
      m.textContent = "nothing playing";
      np.appendChild(m);
      return;
    }
    for (const target of [np, ov]) {
      target.appendChild(userSpan(header));
      target.appendChild(document.createTextNode(": " + header.display_text));
    }
  }

  function renderQueue() {
    const ol = $("dm-queue");
    ol.innerHTML = "";
    for (const it of queue.items) {
      const li = document.createElement("li");
      li.appendChild(userSpan(it.header));
      li.appendChild(document.createTextNode(": " + it.header.display_text));
      ol.appendChild(li);
    }
    $("dm-queue-count").textContent = `(${queue.items.length})`;
  }

  function logLine(header) {
    const ul = $("dm-log");
    const li = document.createElement("li");
    const time = document.createElement("span");
    time.className = "muted";
    time.textContent = new Date().toLocaleTimeString() + " ";
    li.appendChild(time);
    li.appendChild(userSpan(header));
    li.appendChild(document.createTextNode(": " + header.display_text));
    ul.appendChild(li);
    while (ul.children.length > LOG_MAX) ul.removeChild(ul.firstChild);
    ul.scrollTop = ul.scrollHeight;
  }

  // ---------------------------------------------------------------- danmaku channel
  function setWsState(text, cls) {
    const el = $("dm-ws");
    el.textContent = `player: ${text}`;
    el.className = `pill ${cls}`;
  }

  // An `error` control event (or the status's last_error) as the chat panel's banner.
  let chatError = null;
  function showChatError(err) {
    chatError = err && err.message ? err : null;
    renderProblem();
  }

  function onControl(ev) {
    if (queue.control(ev)) {
      if (ev.type === "state") document.dispatchEvent(new CustomEvent("ishowtts:state", { detail: ev }));
      return;
    }
    if (ev.type === "error") {
      showChatError(ev);
      refreshStatus(); // hidden again if no chat source is running (an error left over from before Stop)
    } else if (ev.type === "error_clear") {
      showChatError(null);
    }
  }

  let playerChannel = null;
  // Opens the player channel once; `fresh` drops the current connection and opens again (a new key).
  function connectStream(fresh = false) {
    if (playerChannel) {
      if (fresh) playerChannel.reconnect();
      return;
    }
    playerChannel = connect({
      key: apiKey,
      transport: params.get("transport") || "auto",
      onClip: (item) => {
        logLine(item.header);
        queue.push(item);
      },
      onControl,
      onState: setWsState,
    });
  }

  // ---------------------------------------------------------------- danmaku control
  function describeStatus(st) {
    const chans = st.channels.map((c) => `${c.platform}/${c.channel}${c.joined ? "" : " (joining…)"}`);
    const src = st.sources && st.sources[0];
    const conn = src ? src.state : "idle";
    return (
      `source: ${conn} · channels: ${chans.join(", ") || "none"} · queue ${st.queue_depth}/${st.queue_capacity}` +
      ` · dropped ${st.dropped_total} · spoken ${st.synthesis.completed}` +
      (st.synthesis.failed ? ` · failed ${st.synthesis.failed}` : "")
    );
  }

  // A chat connection failure as a banner in plain words; the raw error only under "details". The
  // source's own error (with the raw detail) wins over the server's last_error / error events.
  let sourceProblem = null;
  function showDanmakuStatus(st) {
    $("dm-status").textContent = describeStatus(st);
    const src = st.sources && st.sources[0];
    const err = src && src.state !== "connected" ? src.error : null;
    sourceProblem = err ? { ...err, retrying: src.state !== "stopped" } : null;
    if ("last_error" in st) {
      chatError = sourceActive(st) && st.last_error && st.last_error.message ? st.last_error : null;
    }
    renderProblem();
    if (typeof st.paused === "boolean") onControl({ type: "state", paused: st.paused, queued: st.queued });
    document.dispatchEvent(new CustomEvent("ishowtts:status", { detail: st }));
  }

  function renderProblem() {
    const err = sourceProblem || chatError;
    $("dm-problem").hidden = !err;
    if (!err) return;
    $("dm-problem-text").textContent = err.message;
    $("dm-problem-retry").textContent = sourceProblem && sourceProblem.retrying ? "retrying automatically…" : "";
    $("dm-problem-detail").textContent = err.detail || "";
  }

  async function refreshStatus() {
    try {
      const st = await apiJson("/api/danmaku/status");
      showDanmakuStatus(st);
    } catch (err) {
      $("dm-status").textContent = `status unavailable: ${err.message}`;
    }
  }

  async function startDanmaku() {
    clearError();
    const channel = $("dm-channel").value.trim();
    if (!channel) {
      showError("Enter a channel name or twitch.tv URL.");
      return;
    }
    const body = { platform: $("dm-platform").value, channel };
    if ($("dm-voice").value) body.voice_id = $("dm-voice").value;
    try {
      const res = await apiJson("/api/danmaku/start", { method: "POST", json: body });
      showDanmakuStatus(res.status);
      connectStream();
    } catch (err) {
      showError(err);
    }
  }

  async function stopDanmaku() {
    clearError();
    try {
      const res = await apiJson("/api/danmaku/stop", { method: "POST", json: {} });
      showDanmakuStatus(res.status);
    } catch (err) {
      showError(err);
    }
  }

  async function sendTestLine(ev) {
    ev.preventDefault();
    clearError();
    const text = $("dm-test-text").value.trim();
    if (!text) return;
    const msg = { platform: "web", channel: "local", username: "you", text };
    if ($("dm-voice").value) msg.metadata = { voice_id: $("dm-voice").value };
    try {
      const res = await api("/api/danmaku/enqueue", { method: "POST", json: msg });
      if (res.status === 204) {
        showError(`filtered: ${res.headers.get("X-Danmaku-Filtered") || "unknown reason"}`);
      } else {
        $("dm-test-text").value = "";
      }
    } catch (err) {
      showError(err);
    }
  }

  // ---------------------------------------------------------------- voice settings
  const refUrls = {};

  async function loadRefAudio(voiceId, source, available) {
    const el = $(`ref-${source}-audio`);
    if (refUrls[source]) URL.revokeObjectURL(refUrls[source]);
    refUrls[source] = null;
    el.removeAttribute("src");
    el.load();
    if (!available) return;
    try {
      const res = await api(`/api/voices/${encodeURIComponent(voiceId)}/reference/audio?source=${source}`);
      refUrls[source] = URL.createObjectURL(await res.blob());
      el.src = refUrls[source];
    } catch (err) {
      showError(err);
    }
  }

  async function loadReference() {
    const voiceId = $("voice").value;
    if (!voiceId) return;
    $("ref-voice").textContent = `(${voiceId})`;
    $("voice-delete").hidden = true; // shown again once this voice is known to be a created one
    try {
      const r = await apiJson(`/api/voices/${encodeURIComponent(voiceId)}/reference`);
      if ($("voice").value !== voiceId) return; // another voice was chosen meanwhile; its own load shows it
      $("ref-engine").textContent = r.engine_label || r.engine || "–";
      $("ref-active-text").textContent = r.active_reference_text || "–";
      $("ref-baseline-text").textContent = r.baseline_reference_text || "–";
      $("ref-override-text").textContent = r.override_reference_text || "(none)";
      $("ref-updated").textContent = r.override_updated_at || "–";
      $("voice-delete").hidden = !r.created_at; // only voices created through the API can be deleted
      await Promise.all([
        loadRefAudio(voiceId, "baseline", r.baseline_audio_available),
        loadRefAudio(voiceId, "override", r.override_audio_available),
      ]);
    } catch (err) {
      showError(err);
    }
  }

  async function saveReference(ev) {
    ev.preventDefault();
    clearError();
    const voiceId = $("voice").value;
    const text = $("ref-text").value;
    const file = $("ref-file").files[0];
    if (!text.trim() && !file) {
      showError("Choose a reference clip and/or type its text.");
      return;
    }
    const form = new FormData();
    if (text.trim()) form.append("text", text.trim());
    if (file) form.append("audio", file, file.name);
    const btn = $("ref-save");
    btn.disabled = true;
    try {
      const res = await apiJson(`/api/voices/${encodeURIComponent(voiceId)}/reference`, { method: "POST", body: form });
      $("ref-text").value = "";
      $("ref-file").value = "";
      // espeak-ng cannot clone: the upload is stored for F5 and the server says so
      $("ref-warning-text").textContent = (res && res.warning) || "";
      $("ref-warning").hidden = !(res && res.warning);
      await loadReference();
    } catch (err) {
      showError(err);
    } finally {
      btn.disabled = false;
    }
  }

  async function resetReference() {
    clearError();
    const voiceId = $("voice").value;
    try {
      await apiJson(`/api/voices/${encodeURIComponent(voiceId)}/reference`, { method: "DELETE" });
      await loadReference();
    } catch (err) {
      showError(err);
    }
  }

  async function deleteVoice() {
    clearError();
    const voiceId = $("voice").value;
    if (!voiceId || !confirm(`Delete the voice "${voiceId}" and its reference files?`)) return;
    try {
      await apiJson(`/v1/audio/voices/${encodeURIComponent(voiceId)}`, { method: "DELETE" });
      $("voice-delete").hidden = true;
      localStorage.removeItem(VOICE_STORE);
      $("voice").value = "";
      await loadVoices();
    } catch (err) {
      showError(err);
    }
  }

  // ---------------------------------------------------------------- wiring
  function init() {
    $("api-key").value = apiKey();
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("api-key").value.trim();
      if (v) localStorage.setItem(KEY_STORE, v);
      else localStorage.removeItem(KEY_STORE);
      clearError();
      loadVoices();
      connectStream(true);
      document.dispatchEvent(new Event("ishowtts:key"));
    });
    $("error-close").addEventListener("click", clearError);
    $("audio-unlock-btn").addEventListener("click", () => {
      $("audio-unlock").hidden = true;
      if (queue.current && !queue.paused) playElement(queue.el);
    });
    $("tts-text").addEventListener("input", () => {
      $("tts-count").textContent = `${$("tts-text").value.length} / 1000`;
    });
    $("speak").addEventListener("click", () => speak(ttsRequest()));
    $("tts-text").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) speak(ttsRequest());
    });
    $("history-clear").addEventListener("click", () => {
      localStorage.removeItem(HISTORY_STORE);
      renderHistory();
    });
    $("voice").addEventListener("change", () => {
      localStorage.setItem(VOICE_STORE, $("voice").value);
      loadReference();
    });
    $("dm-start").addEventListener("click", startDanmaku);
    $("dm-stop").addEventListener("click", stopDanmaku);
    $("dm-volume").addEventListener("input", () => queue.setVolume(Number($("dm-volume").value)));
    $("dm-test-form").addEventListener("submit", sendTestLine);
    $("ref-form").addEventListener("submit", saveReference);
    $("ref-reset").addEventListener("click", resetReference);
    $("ref-warning-close").addEventListener("click", () => ($("ref-warning").hidden = true));
    $("voice-delete").addEventListener("click", deleteVoice);

    if (overlay) document.body.classList.add("overlay");
    loadHealth();
    setInterval(loadHealth, 10000);
    if (!overlay) {
      loadVoices();
      renderHistory();
      refreshStatus();
      setInterval(refreshStatus, 3000);
    }
    connectStream();
  }

  window.ishowtts = { queue, connectStream, loadVoices, loadReference, refreshStatus, api, apiJson, showError, clearError };
  init();
})();
