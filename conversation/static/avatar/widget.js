/*
 * The avatar widget: a talking face for any web page, speaking protocol v1 (docs/protocol.md).
 *
 *   <script src="https://HOST/static/avatar/widget.js" data-avatar="SLUG" defer></script>
 *
 * puts a launcher in the page's corner; `data-mode="inline" data-target="#element"` shows the
 * widget inside an element instead. For more control, load the script without data-avatar and
 * call `AvatarWidget.mount(element, {avatar: "SLUG", server: "https://HOST", mode: "inline"})`.
 *
 * Timing: audio is scheduled on the WebAudio clock; every video frame of a media chunk is shown
 * at (chunk start + k / fps) on that same clock, so lips and sound cannot drift apart however
 * long the avatar talks. The idle clip loops underneath; speaking frames are face crops pasted
 * over it, faded in and out.
 */
(() => {
  "use strict";

  const MAGIC = 0xa1;
  const KIND = { AUDIO: 1, FRAMES: 2, CHUNK: 3, END: 4 };
  const SAMPLE_RATE = 16000;
  const SCHEDULE_LEAD_S = 0.06; // jitter margin before the first chunk of a turn plays
  const FADE_S = 0.12; // cross-fade between the idle loop and speech
  const RETRY_CODES = new Set([1001, 1005, 1006, 1011, 1012, 4009, 4029]);
  const BACKOFF_S = [1, 2, 4, 8, 15, 30];
  const LOCAL_VAD = { rms: 0.03, frames: 8 }; // about -30 dBFS held for 160 ms
  const TEXT_LIMIT = 1000;
  // The stage takes the avatar's own shape within these bounds; past them (and past 70 % of the
  // screen's height) the picture is letterboxed, never stretched.
  const SHAPE_LIMITS = { tallest: 3 / 4, widest: 4 / 3 };

  const CLOSE_WORDS = {
    4000: "This page uses an old version of the assistant. Please reload the page.",
    4003: "This site isn't allowed to show the assistant.",
    4004: "This assistant doesn't exist.",
    4009: "The assistant isn't available right now.",
    4011: "This assistant is no longer available. Thank you for your visit.",
    4029: "Too many conversations are open right now.",
  };
  const STATE_WORDS = {
    connecting: "Connecting…",
    idle: "Ask me anything",
    listening: "Listening…",
    thinking: "Thinking…",
    speaking: "Speaking",
    interrupted: "Stopped",
    error: "Something went wrong",
    offline: "Offline",
  };

  const uuidOf = (bytes) => {
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };

  /** One media message (docs/protocol.md, "Media"), or throws on anything malformed. */
  function parseMedia(buffer) {
    const view = new DataView(buffer);
    if (buffer.byteLength < 24 || view.getUint8(0) !== MAGIC) throw new Error("media layout");
    const kind = view.getUint8(1);
    const turnId = uuidOf(new Uint8Array(buffer, 4, 16));
    const seq = view.getUint32(20, true);
    if (kind === KIND.END) return { kind, turnId, seq };
    const sampleRate = view.getUint32(24, true);
    const audioBytes = view.getUint32(32, true);
    const count = view.getUint16(36, true);
    let at = 40 + 16 * count;
    const audio = new Int16Array(buffer.slice(at, at + audioBytes));
    at += audioBytes;
    const frames = [];
    for (let i = 0; i < count; i++) {
      const entry = 40 + 16 * i;
      const size = view.getUint32(entry + 12, true);
      frames.push({
        idle: view.getUint32(entry, true),
        x: view.getUint16(entry + 4, true),
        y: view.getUint16(entry + 6, true),
        w: view.getUint16(entry + 8, true),
        h: view.getUint16(entry + 10, true),
        jpeg: new Blob([new Uint8Array(buffer, at, size)], { type: "image/jpeg" }),
      });
      at += size;
    }
    if (at !== buffer.byteLength) throw new Error("media length");
    return { kind, turnId, seq, sampleRate, audio, frames };
  }

  /** Plays the media of one turn at a time on the WebAudio clock and keeps its frame timeline. */
  class Player {
    constructor(onIdle) {
      this.context = null;
      this.onIdle = onIdle;
      this.turnId = null;
      this.playhead = 0;
      this.sources = new Set();
      this.frames = []; // {at, bitmap|null, box, seq} sorted by at
      this.cues = []; // {at, text}
      this.ended = false;
      this.fps = 25;
      this.stats = { chunksPlayed: 0, framesShown: 0, underruns: 0 };
      this.lastFrame = null;
      this.speechStart = 0;
      this.speechEnd = 0;
    }

    audio() {
      if (!this.context) this.context = new AudioContext({ latencyHint: "interactive" });
      if (this.context.state === "suspended") this.context.resume();
      return this.context;
    }

    get now() {
      return this.context ? this.context.currentTime : 0;
    }

    get playing() {
      return this.sources.size > 0;
    }

    /** Schedule one chunk; returns when (context time) it starts. */
    enqueue(media) {
      const context = this.audio();
      if (media.turnId !== this.turnId) this.begin(media.turnId);
      const samples = media.audio.length;
      const start = Math.max(this.playhead, context.currentTime + SCHEDULE_LEAD_S);
      if (this.playhead && start > this.playhead + 0.005) this.stats.underruns++; // a gap in speech
      if (!this.sources.size && !this.frames.length) this.speechStart = start;
      if (samples) {
        const buffer = context.createBuffer(1, samples, media.sampleRate || SAMPLE_RATE);
        const channel = buffer.getChannelData(0);
        for (let i = 0; i < samples; i++) channel[i] = media.audio[i] / 32768;
        const source = context.createBufferSource();
        source.buffer = buffer;
        source.connect(context.destination);
        source.onended = () => {
          this.sources.delete(source);
          this.stats.chunksPlayed++;
          this.maybeIdle();
        };
        source.start(start);
        this.sources.add(source);
      }
      const duration = samples / (media.sampleRate || SAMPLE_RATE);
      this.playhead = start + duration;
      this.speechEnd = this.playhead;
      media.frames.forEach((frame, k) => {
        const slot = { at: start + k / this.fps, bitmap: null, box: frame, seq: media.seq };
        this.frames.push(slot);
        createImageBitmap(frame.jpeg).then(
          (bitmap) => {
            if (this.turnId === media.turnId) slot.bitmap = bitmap;
            else bitmap.close();
          },
          () => {}, // an undecodable frame shows the idle loop for 40 ms
        );
      });
      return start;
    }

    begin(turnId) {
      this.stop();
      this.turnId = turnId;
      this.ended = false;
      this.playhead = 0;
    }

    end(turnId) {
      if (turnId === this.turnId) {
        this.ended = true;
        this.maybeIdle();
      }
    }

    maybeIdle() {
      if (this.ended && !this.sources.size) this.onIdle(this.turnId);
    }

    /** Silence now and drop everything buffered (barge-in, or a new turn). */
    stop() {
      for (const source of this.sources) {
        source.onended = null;
        try {
          source.stop();
        } catch (_) {
          /* never started */
        }
        source.disconnect();
      }
      this.sources.clear();
      for (const slot of this.frames) if (slot.bitmap && slot !== this.lastFrame) slot.bitmap.close();
      if (this.lastFrame && this.lastFrame.bitmap) this.lastFrame.bitmap.close();
      this.frames = [];
      this.cues = [];
      this.lastFrame = null;
      this.speechEnd = Math.min(this.speechEnd, this.now);
      this.playhead = 0;
    }

    /** The face crop to show now and how opaque (the cross-fade), or null for the idle loop. */
    frameNow() {
      const now = this.now;
      const keep = (slot) => {
        if (slot.bitmap && slot !== this.lastFrame) {
          if (this.lastFrame && this.lastFrame.bitmap) this.lastFrame.bitmap.close();
          this.lastFrame = slot; // shown until a later frame has decoded
        }
      };
      while (this.frames.length > 1 && this.frames[1].at <= now) keep(this.frames.shift());
      const current = this.frames.length && this.frames[0].at <= now ? this.frames[0] : null;
      if (current && current.bitmap) {
        keep(current);
        this.stats.framesShown++;
      }
      const shown = this.lastFrame;
      if (!shown || now >= this.speechEnd + FADE_S) return null;
      const fadeIn = Math.min(1, (now - this.speechStart) / FADE_S);
      const fadeOut = now > this.speechEnd ? 1 - (now - this.speechEnd) / FADE_S : 1;
      return { slot: shown, alpha: Math.max(0, Math.min(fadeIn, fadeOut)) };
    }
  }

  /** Microphone capture: AudioWorklet, 16 kHz PCM16 in 20 ms frames, plus a level per frame. */
  class Microphone {
    constructor(context, workletUrl, onFrame) {
      this.context = context;
      this.workletUrl = workletUrl;
      this.onFrame = onFrame;
      this.stream = null;
      this.node = null;
    }

    async start() {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      });
      await this.context.audioWorklet.addModule(this.workletUrl);
      const input = this.context.createMediaStreamSource(this.stream);
      this.node = new AudioWorkletNode(this.context, "avatar-capture", {
        processorOptions: { targetRate: SAMPLE_RATE, frameSamples: SAMPLE_RATE / 50 },
      });
      this.node.port.onmessage = (event) => this.onFrame(event.data.pcm, event.data.rms);
      input.connect(this.node);
      // A worklet runs only when connected toward the destination; it writes silence.
      this.node.connect(this.context.destination);
    }

    stop() {
      if (this.node) {
        this.node.port.onmessage = null;
        this.node.disconnect();
        this.node = null;
      }
      if (this.stream) {
        for (const track of this.stream.getTracks()) track.stop();
        this.stream = null;
      }
    }
  }

  /** The hand-off to a person (docs/handoff.md): the one-tap transcript question, the "agent"
   * badge and subtitle style while a person answers, and their plain chat lines. */
  class HandOffPanel {
    constructor(widget, stage, after) {
      this.widget = widget;
      this.id = null;
      const style = document.createElement("style");
      style.textContent = `
        .agent-badge { position: absolute; top: .5rem; right: .5rem; background: #0b57d0; color: #fff;
                       border-radius: 999px; padding: .15rem .6rem; font-size: .8rem; font-weight: 600; }
        :host([data-agent]) .subtitle { background: linear-gradient(transparent, rgba(11,87,208,.9)); }
        :host([data-agent]) .subtitle::before { content: attr(data-speaker) ": "; font-weight: 600; }
        .share, .chat { background: #eef3fd; border-radius: 8px; padding: .45rem .6rem; font-size: .9rem; }
        .share { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
        .share span { flex: 1 1 100%; }
        .chat:empty { display: none; }`;
      stage.getRootNode().append(style);
      this.badge = Object.assign(document.createElement("span"), { className: "agent-badge", hidden: true });
      this.badge.setAttribute("role", "status");
      stage.append(this.badge);
      this.share = Object.assign(document.createElement("div"), { className: "share", hidden: true });
      this.share.setAttribute("role", "group");
      this.share.innerHTML = `<span></span><button type="button" class="yes">Yes, share</button>
        <button type="button" class="no secondary">No</button>`;
      this.share.querySelector(".yes").addEventListener("click", () => this.answer(true));
      this.share.querySelector(".no").addEventListener("click", () => this.answer(false));
      this.chat = Object.assign(document.createElement("div"), { className: "chat" });
      this.chat.setAttribute("aria-live", "polite");
      after.after(this.share, this.chat);
    }

    on(message) {
      this.id = message.handoff_id;
      const japanese = this.widget.ready && this.widget.ready.languages[0] === "ja";
      this.share.querySelector("span").textContent = japanese
        ? "これまでの会話を担当者に共有してもよろしいですか？"
        : "Share this conversation with the person who will help you, so you don't have to repeat yourself?";
      if (message.ask_consent) this.share.hidden = false;
      if (message.consent !== null || message.status === "closed") this.share.hidden = true;
      const agent = message.status === "taken" ? message.agent || "Agent" : null;
      this.badge.hidden = !agent;
      this.badge.textContent = agent ? `Agent: ${agent}` : "";
      this.widget.subtitle.dataset.speaker = agent || "";
      if (agent) this.widget.host.dataset.agent = agent;
      else {
        delete this.widget.host.dataset.agent;
        this.chat.textContent = "";
      }
    }

    chatLine(message) {
      this.chat.textContent = `${message.agent}: ${message.text}`;
    }

    answer(consent) {
      if (this.id && this.widget.send({ type: "handoff_consent", handoff_id: this.id, consent })) this.share.hidden = true;
    }
  }

  const STYLE = `
    :host { all: initial; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; }
    * { box-sizing: border-box; }
    .panel { display: flex; flex-direction: column; gap: .5rem; background: #fff; border-radius: 14px;
             box-shadow: 0 6px 30px rgba(0,0,0,.18); padding: .75rem; width: min(380px, calc(100vw - 2rem)); }
    :host([data-mode="inline"]) .panel { width: 100%; max-width: 560px; box-shadow: none; padding: 0; }
    .stage { position: relative; width: 100%; aspect-ratio: var(--avatar-shape, 1); max-height: 70vh;
             background: #e9e9ee; border-radius: 10px; overflow: hidden; }
    canvas { width: 100%; height: 100%; display: block; object-fit: contain; }
    .badge { position: absolute; top: .5rem; left: .5rem; background: rgba(0,0,0,.6); color: #fff;
             border-radius: 999px; padding: .15rem .6rem; font-size: .8rem; }
    .subtitle { position: absolute; left: 0; right: 0; bottom: 0; padding: .5rem .75rem; min-height: 1.5rem;
                background: linear-gradient(transparent, rgba(0,0,0,.7)); color: #fff; font-size: 1rem; line-height: 1.35; }
    .subtitle:empty { display: none; }
    .heard { min-height: 1.2rem; font-size: .9rem; color: #555; }
    .heard .partial { font-style: italic; color: #888; }
    .alert { background: #fff4e5; color: #6b3b00; border-radius: 8px; padding: .4rem .6rem; font-size: .9rem; }
    .alert:empty { display: none; }
    form { display: flex; gap: .4rem; }
    input[type=text] { flex: 1; min-width: 0; padding: .55rem .7rem; border: 1px solid #bbb; border-radius: 8px; font-size: 1rem; }
    button { font: inherit; border: 0; border-radius: 8px; padding: .55rem .8rem; background: #0b57d0; color: #fff; cursor: pointer; }
    button[aria-pressed="true"] { background: #b3261e; }
    button.secondary { background: #e3e3e8; color: #1d1d1f; }
    button:disabled { opacity: .5; cursor: default; }
    button:focus-visible, input:focus-visible { outline: 3px solid #f9ab00; outline-offset: 2px; }
    .launcher { position: fixed; right: 1rem; bottom: 1rem; z-index: 2147483000; display: flex; flex-direction: column; align-items: flex-end; gap: .5rem; }
    .launcher > button { border-radius: 999px; padding: .7rem 1.1rem; box-shadow: 0 4px 16px rgba(0,0,0,.25); }
    [hidden] { display: none !important; }
  `;

  class AvatarWidget {
    constructor(host, options) {
      this.options = options;
      this.server = new URL(options.server || location.href);
      this.host = host;
      this.state = "connecting";
      this.socket = null;
      this.attempt = 0;
      this.closedForGood = false;
      this.ready = null;
      this.cancelled = new Set(); // turns whose media is dropped on arrival
      this.voiceRun = 0;
      this.player = new Player((turnId) => this.onPlaybackIdle(turnId));
      this.micOn = false;
      this.microphone = null;
      this.build();
      this.connect();
      this.draw = this.draw.bind(this);
      requestAnimationFrame(this.draw);
    }

    // --- DOM ----------------------------------------------------------------------------

    build() {
      const root = this.host.attachShadow({ mode: "open" });
      this.host.dataset.mode = this.options.mode;
      const style = document.createElement("style");
      style.textContent = STYLE;
      root.append(style);
      const panel = document.createElement("section");
      panel.className = "panel";
      panel.setAttribute("aria-label", "Talk to our assistant");
      panel.innerHTML = `
        <div class="stage">
          <canvas role="img" aria-label="The assistant's face"></canvas>
          <span class="badge" role="status" aria-live="polite"></span>
          <div class="subtitle" aria-live="polite" aria-label="What the assistant says"></div>
        </div>
        <div class="heard" aria-live="polite" aria-label="What the assistant heard"></div>
        <div class="alert" role="alert"></div>
        <form>
          <input type="text" name="text" maxlength="${TEXT_LIMIT}" autocomplete="off"
                 placeholder="Type your question" aria-label="Your question">
          <button type="submit">Send</button>
        </form>
        <div style="display:flex; gap:.4rem">
          <button type="button" class="mic secondary" aria-pressed="false">Talk</button>
          <button type="button" class="stop secondary" aria-label="Stop the answer" disabled>■ Stop</button>
        </div>`;
      this.stage = panel.querySelector(".stage");
      this.canvas = panel.querySelector("canvas");
      this.painter = this.canvas.getContext("2d");
      this.badge = panel.querySelector(".badge");
      this.subtitle = panel.querySelector(".subtitle");
      this.heard = panel.querySelector(".heard");
      this.alertBox = panel.querySelector(".alert");
      this.input = panel.querySelector("input");
      this.micButton = panel.querySelector(".mic");
      this.stopButton = panel.querySelector(".stop");
      this.handOff = new HandOffPanel(this, panel.querySelector(".stage"), this.alertBox);
      panel.querySelector("form").addEventListener("submit", (event) => {
        event.preventDefault();
        this.ask(this.input.value);
      });
      this.micButton.addEventListener("click", () => this.toggleMic());
      this.stopButton.addEventListener("click", () => this.interrupt());
      panel.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && this.player.playing) this.interrupt();
      });
      if (this.options.mode === "inline") {
        root.append(panel);
      } else {
        const corner = document.createElement("div");
        corner.className = "launcher";
        const open = document.createElement("button");
        open.type = "button";
        open.textContent = this.options.label || "Ask our assistant";
        open.setAttribute("aria-expanded", "false");
        panel.hidden = true;
        open.addEventListener("click", () => {
          panel.hidden = !panel.hidden;
          open.setAttribute("aria-expanded", String(!panel.hidden));
          if (!panel.hidden) this.input.focus();
        });
        corner.append(panel, open);
        root.append(corner);
      }
      this.video = document.createElement("video");
      Object.assign(this.video, { muted: true, loop: true, playsInline: true, crossOrigin: "anonymous" });
      this.poster = new Image();
      this.poster.crossOrigin = "anonymous";
      this.showState("connecting");
    }

    showState(state) {
      this.state = state;
      this.host.dataset.state = state;
      this.badge.textContent = STATE_WORDS[state] || state;
      this.stopButton.disabled = !(state === "speaking" || state === "thinking");
    }

    showAlert(text) {
      this.alertBox.textContent = text || "";
    }

    // --- connection ---------------------------------------------------------------------

    async connect() {
      this.showState("connecting");
      let grant;
      try {
        const response = await fetch(new URL("/api/sessions", this.server), {
          method: "POST",
          body: new URLSearchParams({ avatar: this.options.avatar }),
          credentials: "omit",
          cache: "no-store",
        });
        grant = await response.json().catch(() => ({}));
        if (!response.ok) return this.refused(response.status, grant);
      } catch (_) {
        return this.retryLater("Connection lost.");
      }
      const url = new URL(grant.websocket, this.server);
      url.protocol = this.server.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(url);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      socket.onopen = () => socket.send(JSON.stringify({ type: "hello", protocol_version: 1, client: "widget/1.0" }));
      socket.onmessage = (event) => this.receive(event.data);
      socket.onclose = (event) => this.closed(event.code, socket);
    }

    refused(status, body) {
      const words = {
        403: CLOSE_WORDS[4003],
        404: CLOSE_WORDS[4004],
        409: CLOSE_WORDS[4009],
        429: CLOSE_WORDS[4029],
      };
      if (status === 409 || status === 429 || status >= 500) {
        return this.retryLater(words[status] || "Connection lost.");
      }
      this.closedForGood = true;
      this.showState("offline");
      this.showAlert(words[status] || (body && body.message) || "The assistant can't be reached.");
    }

    closed(code, socket) {
      if (socket !== this.socket) return;
      this.socket = null;
      this.player.stop();
      this.subtitle.textContent = "";
      if (this.closedForGood) return;
      if (RETRY_CODES.has(code)) return this.retryLater(CLOSE_WORDS[code] || "Connection lost.");
      this.closedForGood = true;
      this.stopMic();
      this.showState("offline");
      this.showAlert(CLOSE_WORDS[code] || "The conversation has ended.");
    }

    retryLater(reason) {
      const delay = BACKOFF_S[Math.min(this.attempt, BACKOFF_S.length - 1)];
      this.attempt++;
      this.showState("offline");
      this.showAlert(`${reason} Reconnecting in ${delay} s…`);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect(), delay * 1000 * (0.8 + 0.4 * Math.random()));
    }

    send(message) {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) {
        this.socket.send(typeof message === "string" || message instanceof ArrayBuffer ? message : JSON.stringify(message));
        return true;
      }
      return false;
    }

    receive(data) {
      if (data instanceof ArrayBuffer) return this.receiveMedia(data);
      let message;
      try {
        message = JSON.parse(data);
      } catch (_) {
        return;
      }
      switch (message.type) {
        case "ready":
          return this.onReady(message);
        case "state":
          return this.onState(message);
        case "transcript":
          return this.showHeard(message.text, message.final);
        case "subtitle":
          return this.onSubtitle(message);
        case "interrupted":
          return this.flush(message.turn_id);
        case "turn_end":
          return this.player.end(message.turn_id);
        case "error":
          if (message.fatal) this.showAlert(message.message);
          else if (message.code === "rate_limited") this.showAlert("Please slow down a little.");
          return;
        case "handoff":
          return this.handOff.on(message);
        case "agent_message":
          return this.handOff.chatLine(message);
        default:
          return; // pong, and anything a newer server adds
      }
    }

    onReady(message) {
      this.ready = message;
      this.attempt = 0;
      this.showAlert("");
      const avatar = message.avatar;
      this.player.fps = avatar.fps;
      this.canvas.width = avatar.width;
      this.canvas.height = avatar.height;
      const shape = Math.min(SHAPE_LIMITS.widest, Math.max(SHAPE_LIMITS.tallest, avatar.width / avatar.height));
      this.stage.style.setProperty("--avatar-shape", String(shape));
      this.canvas.setAttribute("aria-label", `${avatar.name}, the assistant`);
      const clip = avatar.idle_clip || {};
      const source = this.video.canPlayType("video/webm") && clip.webm ? clip.webm : clip.mp4;
      if (avatar.poster) this.poster.src = new URL(avatar.poster, this.server).href;
      if (source && this.video.dataset.src !== source) {
        this.video.dataset.src = source;
        this.video.src = new URL(source, this.server).href;
        this.video.play().catch(() => {});
      }
      this.showState("idle");
      if (this.micOn) this.send({ type: "audio_start", sample_rate: SAMPLE_RATE, encoding: "pcm_s16le", channels: 1 });
    }

    onState(message) {
      if (message.state === "listening") this.heard.textContent = "";
      // "speaking" is shown when audio really plays; the server's clock runs ahead of ours.
      if (message.state === "speaking") return;
      if (message.state === "idle" && this.player.playing) return;
      this.showState(message.state);
    }

    showHeard(text, final) {
      this.heard.replaceChildren();
      const line = document.createElement("span");
      line.className = final ? "final" : "partial";
      line.textContent = text;
      this.heard.append(line);
    }

    onSubtitle(message) {
      if (this.cancelled.has(message.turn_id)) return;
      this.pendingCues = this.pendingCues || new Map();
      const key = `${message.turn_id}/${message.seq}`;
      const before = this.pendingCues.get(key); // a sentence the voice could not say comes first
      this.pendingCues.set(key, before ? `${before} ${message.text}` : message.text);
    }

    receiveMedia(buffer) {
      let media;
      try {
        media = parseMedia(buffer);
      } catch (_) {
        return; // the protocol guarantees well-formed media; never let one break the session
      }
      if (this.cancelled.has(media.turnId)) return;
      if (media.kind === KIND.END) return this.player.end(media.turnId);
      const start = this.player.enqueue(media);
      const key = `${media.turnId}/${media.seq}`;
      const text = this.pendingCues && this.pendingCues.get(key);
      const delay = Math.max(0, (start - this.player.now) * 1000);
      setTimeout(() => {
        if (this.player.turnId !== media.turnId || this.cancelled.has(media.turnId)) return;
        if (this.state !== "speaking") this.showState("speaking");
        if (text) this.subtitle.textContent = text;
      }, delay);
      if (text) this.pendingCues.delete(key);
    }

    onPlaybackIdle(turnId) {
      if (turnId !== this.player.turnId) return;
      setTimeout(() => {
        if (!this.player.playing && this.player.turnId === turnId) {
          this.subtitle.textContent = "";
          if (this.state === "speaking") this.showState("idle");
        }
      }, 400);
    }

    /** Drop every buffer of a turn (on `interrupted`, or at once on our own stop). */
    flush(turnId) {
      if (turnId) this.cancelled.add(turnId);
      if (!turnId || turnId === this.player.turnId) this.player.stop();
      this.subtitle.textContent = "";
      if (this.pendingCues) this.pendingCues.clear();
      this.showState("interrupted");
    }

    // --- user actions -------------------------------------------------------------------

    ask(text) {
      const question = text.trim();
      if (!question) return;
      this.player.audio(); // a user gesture: the browser lets audio start from here on
      if (this.player.playing) this.flush(this.player.turnId);
      if (this.send({ type: "text", text: question.slice(0, TEXT_LIMIT) })) {
        this.input.value = "";
        this.showHeard(question, true);
      } else {
        this.showAlert("Not connected yet. Please try again in a moment.");
      }
    }

    interrupt() {
      this.flush(this.player.turnId);
      this.send({ type: "interrupt" });
    }

    async toggleMic() {
      if (this.micOn) return this.stopMic();
      const context = this.player.audio();
      this.microphone = new Microphone(context, new URL("mic-worklet.js", this.options.scriptUrl).href, (pcm, rms) =>
        this.onMicFrame(pcm, rms),
      );
      try {
        await this.microphone.start();
      } catch (error) {
        this.microphone.stop();
        this.microphone = null;
        const blocked = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
        this.showAlert(
          blocked
            ? "Your microphone is blocked. Allow it in your browser's address bar, or type your question."
            : "No microphone was found. You can type your question instead.",
        );
        return;
      }
      this.micOn = true;
      this.loudFrames = 0;
      this.micButton.setAttribute("aria-pressed", "true");
      this.micButton.textContent = "Listening";
      this.send({ type: "audio_start", sample_rate: SAMPLE_RATE, encoding: "pcm_s16le", channels: 1 });
    }

    stopMic() {
      if (this.microphone) this.microphone.stop();
      this.microphone = null;
      if (this.micOn) this.send({ type: "audio_stop" });
      this.micOn = false;
      this.micButton.setAttribute("aria-pressed", "false");
      this.micButton.textContent = "Talk";
    }

    onMicFrame(pcm, rms) {
      if (!this.micOn) return; // frames captured before audio_start went out
      this.send(pcm);
      // Local barge-in: the user talks over the avatar, so silence it before the server hears.
      this.loudFrames = rms > LOCAL_VAD.rms ? this.loudFrames + 1 : 0;
      if (this.loudFrames >= LOCAL_VAD.frames && this.player.playing) {
        this.loudFrames = 0;
        this.interrupt();
      }
    }

    // --- picture ------------------------------------------------------------------------

    draw() {
      requestAnimationFrame(this.draw);
      const { width, height } = this.canvas;
      const painter = this.painter;
      if (this.video.readyState >= 2) painter.drawImage(this.video, 0, 0, width, height);
      else if (this.poster.complete && this.poster.naturalWidth) painter.drawImage(this.poster, 0, 0, width, height);
      const face = this.player.frameNow();
      if (face) {
        const { box } = face.slot;
        painter.globalAlpha = face.alpha;
        painter.drawImage(face.slot.bitmap, box.x, box.y, box.w, box.h);
        painter.globalAlpha = 1;
      }
    }

    /** Figures for tests and for an operator's console; nothing about what was said. */
    stats() {
      return {
        state: this.state,
        playing: this.player.playing,
        turnId: this.player.turnId,
        scheduledSources: this.player.sources.size,
        bufferedFrames: this.player.frames.length,
        micOn: this.micOn,
        faceBox: this.ready ? this.ready.avatar.face_box : null,
        ...this.player.stats,
      };
    }
  }

  const instances = [];
  const scriptUrl = document.currentScript ? document.currentScript.src : location.href;

  function mount(target, options) {
    const element = typeof target === "string" ? document.querySelector(target) : target;
    const host = element || document.body.appendChild(document.createElement("div"));
    const widget = new AvatarWidget(host, {
      mode: element ? "inline" : "launcher",
      server: new URL(scriptUrl).origin,
      scriptUrl,
      ...options,
    });
    instances.push(widget);
    return widget;
  }

  window.AvatarWidget = { mount, instances, parseMedia };

  const tag = document.currentScript;
  if (tag && tag.dataset.avatar) {
    const start = () => {
      const target = tag.dataset.target ? document.querySelector(tag.dataset.target) : null;
      mount(target, {
        avatar: tag.dataset.avatar,
        mode: tag.dataset.mode || (target ? "inline" : "launcher"),
        label: tag.dataset.label,
      });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
