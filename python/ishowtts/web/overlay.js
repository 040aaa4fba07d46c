// iShowTTS OBS overlay: plays the chat read-aloud clips and shows the line being spoken (user in their
// colour, text, a progress bar), on a transparent page for an OBS browser source. Obeys the server's
// control events at once (skip, remove, clear, pause/resume) and shows chat connection problems as
// plain-language banners. Settings come from the query string (docs/danmaku.md, "Streamer's setup"):
//
//   volume=0..1        playback volume of the spoken lines (default 1)
//   font_size=PX       text size in CSS pixels (default 42)
//   hide_after=S       seconds the line stays on screen after it was spoken (default 2; 0 = at once)
//   api_key=KEY        the server's API key, when it has one
//   bed=URL            optional background audio, looped; ducked while a line is spoken
//   bed_volume=0..1    its volume when nobody speaks (default 0.3)
//   duck=0..1          the bed's gain while a line is spoken (default 0.2: bed at 20% of bed_volume)
//   transport=auto|ws|sse   how clips arrive (default auto: WebSocket, SSE when WebSockets fail)
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const { ClipPlayer, connect, sourceActive } = window.IShowPlayer;
  const DUCK_RAMP_MS = 250;
  const STATUS_POLL_MS = 3000; // besides the events: a chat error left over after a stop goes, paused state
  const CONN_BANNER_DELAY_MS = 3000;

  // ---------------------------------------------------------------- settings
  const problems = [];
  const params = new URLSearchParams(location.search);

  function num(name, def, lo, hi) {
    const raw = params.get(name);
    if (raw === null || raw.trim() === "") return def;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < lo || v > hi) {
      problems.push(`overlay setting ${name}=${raw} ignored: use a number from ${lo} to ${hi} (using ${def})`);
      return def;
    }
    return v;
  }

  function choice(name, def, allowed) {
    const raw = params.get(name);
    if (raw === null || raw === "") return def;
    if (!allowed.includes(raw)) {
      problems.push(`overlay setting ${name}=${raw} ignored: use one of ${allowed.join(", ")}`);
      return def;
    }
    return raw;
  }

  const settings = {
    volume: num("volume", 1, 0, 1),
    fontSize: num("font_size", 42, 8, 300),
    hideAfter: num("hide_after", 2, 0, 3600),
    apiKey: params.get("api_key") || "",
    bed: params.get("bed") || "",
    bedVolume: num("bed_volume", 0.3, 0, 1),
    duck: num("duck", 0.2, 0, 1),
    transport: choice("transport", "auto", ["auto", "ws", "sse"]),
  };

  // ---------------------------------------------------------------- banners
  // keyed: "chat" (the server's error events / last_error), "conn" (this page's own connection), "config"
  const banners = new Map();

  function setBanner(key, text, kind = "error") {
    if (text) banners.set(key, { text, kind });
    else banners.delete(key);
    const box = $("ov-banners");
    box.innerHTML = "";
    for (const [k, b] of banners) {
      const div = document.createElement("div");
      div.className = `banner ${b.kind === "warn" ? "warn" : ""}`;
      div.dataset.key = k;
      div.textContent = b.text;
      box.appendChild(div);
    }
  }

  function showServerError(err) {
    if (err && err.message) setBanner("chat", err.message);
    else setBanner("chat", null);
  }

  // ---------------------------------------------------------------- the line on screen
  let hideTimer = null;
  let shownId = null;

  function hideLine() {
    clearTimeout(hideTimer);
    hideTimer = null;
    shownId = null;
    $("ov-line").hidden = true;
    $("ov-line").classList.remove("fading");
    $("ov-progress").style.width = "0%";
  }

  function showLine(header) {
    clearTimeout(hideTimer);
    hideTimer = null;
    shownId = header.id;
    const user = $("ov-user");
    user.textContent = header.username || header.user || "";
    user.style.color = /^#[0-9a-fA-F]{6}$/.test(header.color || "") ? header.color : "";
    $("ov-text").textContent = header.display_text || "";
    $("ov-progress").style.width = "0%";
    $("ov-line").classList.remove("fading");
    $("ov-line").hidden = false;
  }

  // A line spoken to its end stays `hide_after` seconds; a skipped, removed or cleared one goes at once.
  function lineFinished(how) {
    if (how !== "ended" || settings.hideAfter === 0) {
      hideLine();
      return;
    }
    $("ov-progress").style.width = "100%";
    hideTimer = setTimeout(() => {
      $("ov-line").classList.add("fading");
      hideTimer = setTimeout(hideLine, 300);
    }, settings.hideAfter * 1000);
  }

  function tick() {
    if (player.current) {
      $("ov-progress").style.width = `${(player.progress().fraction * 100).toFixed(2)}%`;
    }
    requestAnimationFrame(tick);
  }

  // ---------------------------------------------------------------- ducking the optional bed
  const bed = $("ov-bed");
  let bedTimer = null;

  function bedTarget() {
    const speaking = player.current && !player.paused;
    return settings.bedVolume * (speaking ? settings.duck : 1);
  }

  function rampBed() {
    if (!settings.bed) return;
    clearInterval(bedTimer);
    const target = bedTarget();
    const start = bed.volume;
    const t0 = performance.now();
    bedTimer = setInterval(() => {
      const k = Math.min(1, (performance.now() - t0) / DUCK_RAMP_MS);
      bed.volume = start + (target - start) * k;
      if (k >= 1) clearInterval(bedTimer);
    }, 20);
  }

  function startBed() {
    if (!settings.bed) return;
    bed.src = settings.bed;
    bed.volume = settings.bedVolume;
    bed.addEventListener("error", () => setBanner("bed", `overlay: cannot play the bed audio ${settings.bed}`, "warn"));
    const p = bed.play();
    if (p && p.catch) p.catch((err) => err && err.name === "NotAllowedError" && ($("ov-unlock").hidden = false));
  }

  // ---------------------------------------------------------------- player + channel
  function onChange(p) {
    document.body.classList.toggle("paused", p.paused);
    if (p.current && p.current.header.id !== shownId) showLine(p.current.header);
    rampBed();
  }

  const player = new ClipPlayer($("ov-audio"), {
    onChange,
    onFinish: (_item, how) => lineFinished(how),
    onError: (message) => setBanner("audio", `overlay: ${message}`, "warn"),
    onBlocked: () => ($("ov-unlock").hidden = false),
  });
  player.setVolume(settings.volume);

  let connTimer = null;

  function onState(text, cls) {
    document.body.dataset.connection = text;
    clearTimeout(connTimer);
    if (cls === "pill-ok") {
      setBanner("conn", null);
      return;
    }
    if (cls === "pill-bad") {
      setBanner("conn", `overlay: ${text} — check the api_key in this source's URL`);
      return;
    }
    connTimer = setTimeout(
      () => setBanner("conn", `overlay: lost the connection to iShowTTS (${location.host}) — is the server running? retrying…`),
      CONN_BANNER_DELAY_MS,
    );
  }

  function onStatus(st) {
    if (!st) return;
    if ("last_error" in st) showServerError(sourceActive(st) ? st.last_error : null);
    if (typeof st.paused === "boolean") player.control({ type: "state", paused: st.paused, queued: st.queued });
  }

  function onControl(ev) {
    if (player.control(ev)) return;
    if (ev.type === "error") {
      showServerError(ev);
      pollStatus(); // hidden again if no chat source is running (an error left over from before a stop)
    } else if (ev.type === "error_clear") {
      setBanner("chat", null);
    }
  }

  async function pollStatus() {
    try {
      const headers = settings.apiKey ? { Authorization: `Bearer ${settings.apiKey}` } : {};
      const res = await fetch("/api/danmaku/status", { headers });
      if (res.ok) onStatus(await res.json());
    } catch (_) {
      // the connection banner covers an unreachable server
    }
  }

  function init() {
    document.documentElement.style.setProperty("--font-size", `${settings.fontSize}px`);
    problems.forEach((text, i) => setBanner(`config${i}`, text, "warn"));
    for (const p of problems) console.warn(p);
    $("ov-unlock-btn").addEventListener("click", () => {
      $("ov-unlock").hidden = true;
      if (player.current && !player.paused) player._play();
      if (settings.bed) bed.play();
    });
    startBed();
    requestAnimationFrame(tick);
    const channel = connect({
      key: () => settings.apiKey,
      transport: settings.transport,
      onClip: (item) => player.push(item),
      onControl,
      onStatus,
      onState,
    });
    setInterval(pollStatus, STATUS_POLL_MS);
    window.ishowOverlay = { player, settings, channel, bed, banners };
  }

  init();
})();
