// iShowTTS chat read-aloud player, shared by the main page (app.js) and the OBS overlay (overlay.js).
//
// - ClipPlayer: one <audio> element plays the chat clips strictly one after another, and obeys the
//   server's control events at once: skip, remove, clear, and state (paused / resumed).
// - connect(): the player channel. WebSocket /api/danmaku/stream (binary frames = clips, text frames =
//   JSON control events); when the WebSocket cannot be opened it falls back to SSE /api/danmaku/events
//   (`event: clip` with audio_base64, `event: control`). Reconnects with a jittered backoff.
// See docs/danmaku.md ("Player channel") for the protocol.
"use strict";

(() => {
  // ---------------------------------------------------------------- frames
  function parseFrame(buf) {
    const view = new DataView(buf);
    const n = view.getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
    const audio = buf.slice(4 + n);
    return { header, blob: new Blob([audio], { type: header.format || "audio/wav" }) };
  }

  function b64ToBlob(b64, type) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Blob([bytes], { type });
  }

  function parseSseClip(data) {
    const obj = JSON.parse(data);
    const b64 = obj.audio_base64 || "";
    delete obj.audio_base64;
    return { header: obj, blob: b64ToBlob(b64, obj.format || "audio/wav") };
  }

  // ---------------------------------------------------------------- the player
  // hooks: onChange(player) after any change of what plays or waits; onFinish(item, how) when a clip
  // stops (how: ended | skipped | removed | cleared | error); onError(message); onBlocked() when the
  // browser refuses to autoplay.
  class ClipPlayer {
    constructor(el, hooks = {}) {
      this.el = el;
      this.hooks = hooks;
      this.items = []; // buffered clips, in the order the server sent them
      this.current = null;
      this.paused = false; // the server's pause (state event), not the element's
      this.queued = 0; // lines still waiting on the server (state event)
      this.played = []; // {id, user, text, started, ended, skipped, how}: diagnostics and tests
      el.addEventListener("ended", () => this._finish("ended"));
      el.addEventListener("error", () => {
        if (this.current && this.el.getAttribute("src")) {
          this._emitError(`cannot play the clip from ${this.current.header.username}`);
          this._finish("error");
        }
      });
    }

    push(item) {
      this.items.push(item);
      if (!this.current && !this.paused) this._next();
      else this._changed();
    }

    // The clip playing now stops; the next one starts (unless paused).
    skip() {
      if (this.current) this._finish("skipped");
    }

    // Drop a buffered clip, or stop it if it is the one playing.
    remove(id) {
      if (this.current && this.current.header.id === id) {
        this._finish("removed");
        return;
      }
      const before = this.items.length;
      this.items = this.items.filter((it) => it.header.id !== id);
      if (this.items.length !== before) this._changed();
    }

    clear() {
      this.items = [];
      if (this.current) this._finish("cleared");
      else this._changed();
    }

    setPaused(paused) {
      if (paused === this.paused) return;
      this.paused = paused;
      if (paused) {
        this.el.pause();
        this._changed();
      } else if (this.current) {
        this._play();
        this._changed();
      } else {
        this._next();
      }
    }

    setVolume(v) {
      this.el.volume = Math.min(1, Math.max(0, v));
    }

    // A control event from the server; returns true when it was one the player acts on.
    control(ev) {
      switch (ev && ev.type) {
        case "skip":
          this.skip();
          return true;
        case "remove":
          this.remove(ev.id);
          return true;
        case "clear":
          this.clear();
          return true;
        case "state":
          if (typeof ev.queued === "number") this.queued = ev.queued;
          if (typeof ev.paused === "boolean" && ev.paused !== this.paused) this.setPaused(ev.paused);
          else this._changed();
          return true;
        default:
          return false;
      }
    }

    // Seconds played of the current clip, and its length (the header's duration, else the element's).
    progress() {
      if (!this.current) return { position: 0, duration: 0, fraction: 0 };
      const h = this.current.header;
      const duration = Number(h.duration_s) > 0 ? Number(h.duration_s) : this.el.duration || 0;
      const position = this.el.currentTime || 0;
      const fraction = duration > 0 ? Math.min(1, position / duration) : 0;
      return { position, duration, fraction };
    }

    _emitError(message) {
      if (this.hooks.onError) this.hooks.onError(message);
    }

    _changed() {
      if (this.hooks.onChange) this.hooks.onChange(this);
    }

    _finish(how) {
      const cur = this.current;
      if (cur) {
        if (how !== "ended") this.el.pause();
        const rec = this.played.find((p) => p.id === cur.header.id && p.ended === null);
        if (rec) {
          rec.ended = performance.now();
          rec.how = how;
          rec.skipped = how !== "ended";
        }
        this.el.removeAttribute("src");
        URL.revokeObjectURL(cur.url);
      }
      this.current = null;
      if (cur && this.hooks.onFinish) this.hooks.onFinish(cur, how);
      this._next();
    }

    _next() {
      if (this.paused) {
        this._changed();
        return;
      }
      const item = this.items.shift();
      if (!item) {
        this._changed();
        return;
      }
      this.current = item;
      item.url = URL.createObjectURL(item.blob);
      this.el.src = item.url;
      this.played.push({
        id: item.header.id,
        user: item.header.username,
        text: item.header.display_text,
        started: performance.now(),
        ended: null,
        skipped: false,
        how: null,
      });
      this._changed();
      this._play();
    }

    _play() {
      const p = this.el.play();
      if (p && typeof p.catch === "function") {
        p.catch((err) => {
          if (err && err.name === "NotAllowedError") {
            if (this.hooks.onBlocked) this.hooks.onBlocked();
          } else if (err && err.name !== "AbortError") {
            this._emitError(`cannot play audio: ${err.message}`);
          }
        });
      }
    }
  }

  // ---------------------------------------------------------------- the channel
  // opts: key() -> API key or "", onClip(item), onControl(event), onStatus(status json),
  // onState(text, cls) for a connection pill, transport: "auto" (WebSocket, SSE when it fails) | "ws" | "sse".
  function connect(opts) {
    const key = () => (opts.key ? opts.key() : "") || "";
    const onState = opts.onState || (() => {});
    let transport = opts.transport === "sse" ? "sse" : "ws";
    let ws = null;
    let es = null;
    let timer = null;
    let retry = 0;
    let wsFailures = 0;
    let checking = false;
    let closed = false;

    const backoff = () => Math.min(15000, 500 * 2 ** retry++) * (0.5 + Math.random() / 2);
    const later = () => {
      clearTimeout(timer);
      if (!closed) timer = setTimeout(open, backoff());
    };
    const query = () => (key() ? "?api_key=" + encodeURIComponent(key()) : "");

    function handleControlText(text) {
      let ev;
      try {
        ev = JSON.parse(text);
      } catch (err) {
        console.warn("ignored a control event that is not JSON", text);
        return;
      }
      if (opts.onControl) opts.onControl(ev);
    }

    function handleClip(item) {
      if (opts.onClip) opts.onClip(item);
    }

    // A WebSocket or EventSource refused for a missing key only says "error" in the browser: ask first.
    async function precheck() {
      const headers = key() ? { Authorization: `Bearer ${key()}` } : {};
      let res;
      try {
        res = await fetch("/api/danmaku/status", { headers });
      } catch (err) {
        onState("server unreachable, retrying", "pill-warn");
        return false;
      }
      if (res.status === 401) {
        onState("API key needed", "pill-bad");
        return null; // a new key reconnects
      }
      if (res.status === 404) {
        onState("chat read-aloud not available on this server", "pill-bad");
        return null;
      }
      if (!res.ok) {
        onState(`server answered ${res.status}, retrying`, "pill-warn");
        return false;
      }
      try {
        if (opts.onStatus) opts.onStatus(await res.json());
      } catch (err) {
        console.warn("status not readable", err);
      }
      return true;
    }

    async function open() {
      if (closed || checking || ws || es) return;
      clearTimeout(timer);
      checking = true;
      let ok;
      try {
        ok = await precheck();
      } finally {
        checking = false;
      }
      if (ok === null || closed) return;
      if (!ok) {
        later();
        return;
      }
      if (transport === "ws") openWs();
      else openSse();
    }

    function openWs() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      onState("connecting", "pill-unknown");
      let opened = false;
      const sock = new WebSocket(`${proto}//${location.host}/api/danmaku/stream${query()}`);
      ws = sock;
      sock.binaryType = "arraybuffer";
      sock.onopen = () => {
        opened = true;
        retry = 0;
        wsFailures = 0;
        onState("connected", "pill-ok");
      };
      sock.onmessage = (ev) => {
        if (typeof ev.data === "string") {
          handleControlText(ev.data);
          return;
        }
        let item;
        try {
          item = parseFrame(ev.data);
        } catch (err) {
          console.error("bad frame from the server", err);
          return;
        }
        handleClip(item);
      };
      sock.onclose = (ev) => {
        if (ws === sock) ws = null;
        if (closed) return;
        if (ev.code === 1008) {
          onState("API key rejected", "pill-bad");
          return; // wait for a new key
        }
        if (!opened && opts.transport !== "ws" && ++wsFailures >= 2) {
          transport = "sse"; // a proxy or browser that blocks WebSockets: the same stream over SSE
          console.warn("WebSocket unavailable; using server-sent events");
        }
        onState("reconnecting", "pill-warn");
        later();
      };
    }

    function openSse() {
      onState("connecting (SSE)", "pill-unknown");
      const src = new EventSource(`/api/danmaku/events${query()}`);
      es = src;
      src.onopen = () => {
        retry = 0;
        onState("connected (SSE)", "pill-ok");
      };
      src.addEventListener("clip", (ev) => {
        let item;
        try {
          item = parseSseClip(ev.data);
        } catch (err) {
          console.error("bad clip event from the server", err);
          return;
        }
        handleClip(item);
      });
      src.addEventListener("control", (ev) => handleControlText(ev.data));
      src.onerror = () => {
        if (src.readyState !== EventSource.CLOSED) {
          onState("reconnecting (SSE)", "pill-warn"); // the browser retries by itself
          return;
        }
        if (es === src) es = null;
        onState("reconnecting", "pill-warn");
        later();
      };
    }

    function close() {
      closed = true;
      clearTimeout(timer);
      if (ws) ws.close();
      if (es) es.close();
      ws = null;
      es = null;
    }

    // Drop the current connection and open again (a new API key).
    function reconnect() {
      if (ws) {
        const old = ws;
        ws = null;
        old.onclose = null;
        old.close();
      }
      if (es) {
        es.close();
        es = null;
      }
      retry = 0;
      open();
    }

    open();
    return {
      close,
      reconnect,
      get transport() {
        return transport;
      },
      get connected() {
        return (ws && ws.readyState === WebSocket.OPEN) || (es && es.readyState === EventSource.OPEN) || false;
      },
    };
  }

  // Whether a chat source is running: a chat connection error (status last_error, `error` events) only
  // matters while one is (after Stop, nothing is trying to connect any more).
  function sourceActive(st) {
    return !Array.isArray(st.sources) || st.sources.some((s) => s.state !== "stopped");
  }

  window.IShowPlayer = { ClipPlayer, connect, parseFrame, parseSseClip, b64ToBlob, sourceActive };
})();
