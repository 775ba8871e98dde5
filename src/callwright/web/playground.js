// The callwright playground: talk to an assistant from the browser.
//
// Wire protocol (see callwright/transports/browser.py): one WebSocket carrying binary
// PCM16 little-endian mono 16 kHz frames both ways, and JSON text messages. We send
// 20 ms frames from the microphone, echo every {"type":"mark"} once our playback has
// reached it, and drop all queued audio on {"type":"clear"} (the caller barged in).
"use strict";

(() => {
  const KEY_STORAGE = "callwright.playground.apiKey";
  const WIRE_RATE = 16000;
  // Cushion before the first buffer after the queue ran dry, against network jitter.
  const PLAYBACK_LEAD_S = 0.06;
  // More than ~1 s of microphone audio waiting to leave means the link is stalled:
  // drop frames rather than deliver stale speech later.
  const MAX_SOCKET_BACKLOG_BYTES = 32000;
  const HANGUP_GRACE_MS = 5000;

  const $ = (id) => document.getElementById(id);
  const root = $("playground");
  const ui = {
    authStatus: $("auth-status"),
    keyForm: $("key-form"),
    keyInput: $("api-key"),
    forgetKey: $("forget-key"),
    callForm: $("call-form"),
    assistant: $("assistant"),
    variables: $("variables"),
    start: $("start"),
    stop: $("stop"),
    state: $("call-state"),
    endReason: $("end-reason"),
    error: $("error"),
    level: $("mic-level"),
    keypad: $("keypad"),
    transcript: $("transcript"),
    stats: $("stats"),
  };

  // -- counters: shown on the page and mirrored in data-* attributes of #stats --------

  const stats = {
    inputRate: "–",
    framesSent: 0,
    framesDropped: 0,
    framesReceived: 0,
    secondsReceived: 0,
    buffersPlayed: 0,
    marksReceived: 0,
    marksEchoed: 0,
    clears: 0,
    errors: 0,
  };
  let level = 0;
  let renderPending = false;

  function kebab(name) {
    return name.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase());
  }

  function render() {
    renderPending = false;
    for (const [name, value] of Object.entries(stats)) {
      const shown = typeof value === "number" && !Number.isInteger(value) ? value.toFixed(2) : value;
      ui.stats.dataset[name] = String(shown);
      const cell = ui.stats.querySelector(`[data-stat="${kebab(name)}"]`);
      if (cell) cell.textContent = String(shown);
    }
    ui.level.value = level;
    ui.level.textContent = level.toFixed(2);
  }

  // Frames arrive 50 times a second: repaint at most every 100 ms.
  function scheduleRender() {
    if (!renderPending) {
      renderPending = true;
      setTimeout(render, 100);
    }
  }

  function count(name, by = 1) {
    stats[name] += by;
    scheduleRender();
  }

  // -- state, errors --------------------------------------------------------------------

  function setState(state, endReason) {
    root.dataset.state = state;
    ui.state.textContent = state;
    if (endReason !== undefined) {
      root.dataset.endReason = endReason;
      ui.endReason.textContent = `(${endReason})`;
    }
    const active = ["starting", "connecting", "in-call", "ending"].includes(state);
    ui.start.disabled = active || !ui.assistant.value;
    ui.assistant.disabled = active || ui.assistant.options.length === 0 || !ui.assistant.value;
    ui.stop.disabled = !active || state === "ending";
    ui.keypad.disabled = state !== "in-call";
  }

  function showError(message) {
    count("errors");
    ui.error.textContent = message;
  }

  window.addEventListener("error", (event) => showError(`Page error: ${event.message}`));
  window.addEventListener("unhandledrejection", (event) =>
    showError(`Page error: ${event.reason && event.reason.message ? event.reason.message : event.reason}`),
  );

  // -- the API --------------------------------------------------------------------------

  let apiKey = localStorage.getItem(KEY_STORAGE) || "";

  function cookie(name) {
    const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // Relative paths: the page may sit behind a proxy under a path prefix.
  async function api(method, path, body) {
    const headers = {};
    if (apiKey) {
      headers.Authorization = `Bearer ${apiKey}`;
    } else if (method !== "GET") {
      headers["X-CSRF-Token"] = cookie("csrf-token"); // dashboard session writes
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null; // not JSON: the status line says enough
    }
    if (!response.ok) {
      const reason = payload && payload.error ? payload.error : response.statusText;
      throw new ApiError(response.status, `${response.status}: ${reason}`);
    }
    return payload;
  }

  async function loadAssistants() {
    ui.assistant.replaceChildren(new Option("Loading assistants…", ""));
    ui.assistant.disabled = true;
    let assistants;
    try {
      assistants = await api("GET", "api/v1/assistants?active_only=true&limit=1000");
    } catch (error) {
      ui.assistant.replaceChildren(new Option("Sign in to list your assistants", ""));
      if (error instanceof ApiError && error.status === 401) {
        ui.authStatus.textContent = apiKey
          ? "That API key was refused: check it, or forget it to use your dashboard login."
          : "Not signed in: enter an API key, or log in to the dashboard in this browser.";
      } else {
        ui.authStatus.textContent = `Could not list assistants (${error.message}).`;
      }
      setState(root.dataset.state);
      return;
    }
    ui.authStatus.textContent = apiKey ? "Using your API key." : "Using your dashboard login.";
    if (assistants.length === 0) {
      ui.assistant.replaceChildren(new Option("No assistants yet: create one with the API", ""));
    } else {
      ui.assistant.replaceChildren(
        ...assistants.map((assistant) => new Option(`${assistant.name} (#${assistant.id})`, String(assistant.id))),
      );
      // The dashboard's "Talk to it" names the assistant: /playground?assistant=ID.
      const wanted = new URLSearchParams(location.search).get("assistant");
      if (wanted && assistants.some((assistant) => String(assistant.id) === wanted)) {
        ui.assistant.value = wanted;
      }
    }
    setState(root.dataset.state);
  }

  // -- playback: gapless, with marks and clear -------------------------------------------

  class Player {
    constructor(context, onMark) {
      this.context = context;
      this.onMark = onMark;
      this.playAt = 0; // context time at which the next buffer starts
      this.queued = new Map(); // source node -> {marks, cleared}
      this.last = null; // the last scheduled source, while it has not ended
      this.oddByte = null; // a message may split a sample in two
    }

    enqueue(data) {
      let bytes = new Uint8Array(data);
      if (this.oddByte !== null) {
        const joined = new Uint8Array(bytes.length + 1);
        joined[0] = this.oddByte;
        joined.set(bytes, 1);
        bytes = joined;
        this.oddByte = null;
      }
      if (bytes.length % 2 === 1) {
        this.oddByte = bytes[bytes.length - 1];
        bytes = bytes.subarray(0, bytes.length - 1);
      }
      const samples = bytes.length / 2;
      if (samples === 0) return;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const floats = new Float32Array(samples);
      for (let i = 0; i < samples; i++) floats[i] = view.getInt16(2 * i, true) / 32768;
      count("secondsReceived", samples / WIRE_RATE);

      // A 16 kHz buffer: the context resamples it to its own rate as it plays.
      const buffer = this.context.createBuffer(1, samples, WIRE_RATE);
      buffer.copyToChannel(floats, 0);
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      source.connect(this.context.destination);
      const now = this.context.currentTime;
      if (this.playAt < now) this.playAt = now + PLAYBACK_LEAD_S;
      source.start(this.playAt);
      this.playAt += buffer.duration;
      const entry = { marks: [], cleared: false };
      this.queued.set(source, entry);
      this.last = source;
      source.onended = () => {
        this.queued.delete(source);
        if (this.last === source) this.last = null;
        if (entry.cleared) return;
        count("buffersPlayed");
        for (const name of entry.marks) this.onMark(name);
      };
    }

    // The server asks to hear back once everything sent so far has been played.
    mark(name) {
      if (this.last) this.queued.get(this.last).marks.push(name);
      else this.onMark(name);
    }

    // Barge-in: silence now; marks not reached are never echoed (they were not heard).
    clear() {
      for (const [source, entry] of this.queued) {
        entry.cleared = true;
        source.stop();
      }
      this.queued.clear();
      this.last = null;
      this.playAt = 0;
      this.oddByte = null;
    }

    get remainingSeconds() {
      return Math.max(0, this.playAt - this.context.currentTime);
    }
  }

  // -- transcript ------------------------------------------------------------------------

  let pendingUserLine = null; // the partial being replaced as the caller speaks

  function addLine(role, text, badge) {
    const item = document.createElement("li");
    item.dataset.role = role;
    const speaker = document.createElement("span");
    speaker.className = "speaker";
    speaker.textContent = { user: "You:", assistant: "Assistant:", system: "Call:" }[role];
    const words = document.createElement("span");
    words.className = "text";
    words.textContent = text;
    item.append(speaker, words);
    if (badge) {
      const mark = document.createElement("span");
      mark.className = "badge";
      mark.textContent = badge;
      item.append(mark);
    }
    item.dataset.final = "true";
    ui.transcript.append(item);
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  function showTranscript(message) {
    const text = String(message.text || "");
    if (message.role === "user") {
      if (!message.final && !text) return;
      if (!pendingUserLine) pendingUserLine = addLine("user", "");
      pendingUserLine.querySelector(".text").textContent = text;
      pendingUserLine.dataset.final = String(Boolean(message.final));
      if (message.final) pendingUserLine = null;
    } else if (message.role === "assistant") {
      const line = addLine("assistant", text, message.interrupted ? "interrupted" : "");
      line.dataset.interrupted = String(Boolean(message.interrupted));
    }
  }

  // -- a call ----------------------------------------------------------------------------

  class Call {
    constructor() {
      this.stopping = false;
      this.ended = false;
      this.endReason = null;
    }

    async start(assistantId, variables) {
      setState("starting");
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          channelCount: 1,
          // The assistant's own VAD and transcriber want the raw signal: the browser's
          // processing gates quiet speech and pumps the level. Wear headphones.
          echoCancellation: false,
          noiseSuppression: false,
          autoGainControl: false,
        },
      });
      this.context = new AudioContext(); // the device's rate, read from context.sampleRate
      stats.inputRate = `${this.context.sampleRate} Hz`;
      await this.context.audioWorklet.addModule("playground/capture-worklet.js");
      await this.context.resume();
      if (this.stopping) return this.finish("cancelled");

      const created = await api("POST", "api/v1/calls/web", { assistant_id: assistantId, variables });
      this.callId = String(created.call_id);
      root.dataset.callId = this.callId;
      if (this.stopping) return this.finish("cancelled");

      this.player = new Player(this.context, (name) => {
        if (this.sendJson({ type: "mark", name })) count("marksEchoed");
      });
      const url = new URL(created.ws_url, location.href);
      if (url.protocol === "http:") url.protocol = "ws:";
      if (url.protocol === "https:") url.protocol = "wss:";
      setState("connecting");
      this.socket = new WebSocket(url);
      this.socket.binaryType = "arraybuffer";
      this.socket.onopen = () => this.connectMicrophone();
      this.socket.onmessage = (event) => this.receive(event.data);
      this.socket.onerror = () => showError("The call's connection failed.");
      this.socket.onclose = (event) =>
        this.finish(this.endReason || `connection closed (${event.code}${event.reason ? ": " + event.reason : ""})`);
    }

    connectMicrophone() {
      this.source = this.context.createMediaStreamSource(this.stream);
      // One explicit channel with "speakers" interpretation: Web Audio averages
      // the device's channels into it; the worklet downmixes again if it must.
      this.capture = new AudioWorkletNode(this.context, "capture-processor", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
      });
      this.capture.port.onmessage = (event) => this.sendFrame(event.data);
      this.source.connect(this.capture);
      // The node outputs silence; connecting it to the destination keeps it pulled.
      this.capture.connect(this.context.destination);
    }

    sendFrame(frame) {
      const samples = new DataView(frame);
      let sum = 0;
      for (let i = 0; i < frame.byteLength; i += 2) sum += (samples.getInt16(i, true) / 32768) ** 2;
      level = Math.min(1, Math.sqrt(sum / (frame.byteLength / 2)) * 4);
      const socket = this.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN || this.stopping) return;
      if (socket.bufferedAmount > MAX_SOCKET_BACKLOG_BYTES) {
        count("framesDropped");
        return;
      }
      socket.send(frame);
      count("framesSent");
    }

    sendJson(message) {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
      this.socket.send(JSON.stringify(message));
      return true;
    }

    receive(data) {
      if (data instanceof ArrayBuffer) {
        count("framesReceived");
        this.player.enqueue(data);
        return;
      }
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        showError("The server sent a text message that is not JSON.");
        return;
      }
      switch (message.type) {
        case "call-started":
          if (message.call_id !== undefined) root.dataset.callId = String(message.call_id);
          if (!this.stopping) setState("in-call");
          break;
        case "transcript":
          showTranscript(message);
          break;
        case "mark":
          count("marksReceived");
          this.player.mark(String(message.name));
          break;
        case "clear":
          count("clears");
          this.player.clear();
          break;
        case "transfer":
          addLine("system", `The assistant transferred the call to ${message.destination}, which a browser cannot follow.`);
          break;
        case "call-ended":
          this.endReason = String(message.reason || "ended");
          addLine("system", `Call ended: ${this.endReason}.`);
          this.releaseMicrophone();
          setState("ending");
          // The server closes the socket next; do it ourselves if it does not.
          clearTimeout(this.closeTimer);
          this.closeTimer = setTimeout(() => this.socket.close(1000, "call ended"), HANGUP_GRACE_MS);
          break;
        default:
          break; // newer servers may say more: ignore what we do not know
      }
    }

    // Stop button: hang up, silence the speaker, and give the server a moment to
    // answer with call-ended before closing the socket ourselves.
    stop() {
      if (this.stopping) return;
      this.stopping = true;
      this.releaseMicrophone();
      if (this.player) this.player.clear();
      if (this.sendJson({ type: "hangup" })) {
        setState("ending");
        this.closeTimer = setTimeout(() => this.socket.close(1000, "hung up"), HANGUP_GRACE_MS);
      } else if (this.socket) {
        this.socket.close(1000, "hung up");
      } else {
        setState("ending");
      }
    }

    releaseMicrophone() {
      if (this.source) this.source.disconnect();
      if (this.capture) {
        this.capture.port.onmessage = null;
        this.capture.disconnect();
      }
      if (this.stream) for (const track of this.stream.getTracks()) track.stop();
      level = 0;
      scheduleRender();
    }

    finish(reason) {
      if (this.ended) return;
      this.ended = true;
      clearTimeout(this.closeTimer);
      this.releaseMicrophone();
      pendingUserLine = null;
      // Let a goodbye that is still queued play out before the context closes.
      const tail = this.player && !this.stopping ? this.player.remainingSeconds : 0;
      const context = this.context;
      if (context) setTimeout(() => context.close(), tail * 1000 + 100);
      setState("ended", reason);
      if (current === this) current = null;
    }
  }

  let current = null;

  // -- wiring ----------------------------------------------------------------------------

  ui.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    apiKey = ui.keyInput.value.trim();
    ui.keyInput.value = "";
    if (apiKey) localStorage.setItem(KEY_STORAGE, apiKey);
    else localStorage.removeItem(KEY_STORAGE);
    loadAssistants();
  });

  ui.forgetKey.addEventListener("click", () => {
    apiKey = "";
    localStorage.removeItem(KEY_STORAGE);
    loadAssistants();
  });

  ui.assistant.addEventListener("change", () => setState(root.dataset.state));

  ui.callForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (current) return;
    ui.error.textContent = "";
    let variables = {};
    const written = ui.variables.value.trim();
    if (written) {
      try {
        variables = JSON.parse(written);
      } catch {
        variables = null;
      }
      if (!variables || typeof variables !== "object" || Array.isArray(variables)) {
        showError("Variables must be a JSON object, like {\"name\": \"Ada\"}.");
        return;
      }
    }
    ui.transcript.replaceChildren();
    delete root.dataset.callId;
    delete root.dataset.endReason;
    ui.endReason.textContent = "";
    const call = new Call();
    current = call;
    try {
      await call.start(Number(ui.assistant.value), variables);
    } catch (error) {
      showError(`Could not start the call: ${error.message}`);
      if (call.socket) call.socket.close();
      call.finish("failed to start");
    }
  });

  ui.stop.addEventListener("click", () => {
    if (current) current.stop();
  });

  for (const key of ui.keypad.querySelectorAll("button[data-digit]")) {
    key.addEventListener("click", () => {
      if (current) current.sendJson({ type: "dtmf", digit: key.dataset.digit });
    });
  }

  if (apiKey) ui.keyInput.placeholder = "a key is remembered in this browser";
  setState("idle");
  render();
  loadAssistants();
})();
