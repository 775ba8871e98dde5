// A browser call from the dashboard: the same wire protocol and capture worklet as the
// playground (callwright/transports/browser.py, /playground/capture-worklet.js). One
// WebSocket carries PCM16 little-endian mono 16 kHz frames both ways and JSON messages;
// we send 20 ms microphone frames, echo each {"type":"mark"} once our playback reached
// it, and drop queued audio on {"type":"clear"} (the caller barged in).

import { api } from "./api.js";

const WIRE_RATE = 16000;
// Cushion before the first buffer after the queue ran dry, against network jitter.
const PLAYBACK_LEAD_S = 0.06;
// About 1 s of microphone audio waiting to leave means the link is stalled: drop
// frames rather than deliver stale speech later.
const MAX_SOCKET_BACKLOG_BYTES = 32000;
const HANGUP_GRACE_MS = 5000;
const WORKLET = "/playground/capture-worklet.js";

/** Gapless playback of the assistant's audio, with marks and clear. */
export class Player {
  constructor(context, onMark) {
    this.context = context;
    this.onMark = onMark;
    this.playAt = 0; // context time at which the next buffer starts
    this.queued = new Map(); // source node -> {marks, cleared}
    this.last = null;
    this.oddByte = null; // a message may split a sample in two
    this.secondsReceived = 0;
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
    this.secondsReceived += samples / WIRE_RATE;
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
      for (const name of entry.marks) this.onMark(name);
    };
  }

  /** The server asks to hear back once everything sent so far has played. */
  mark(name) {
    if (this.last) this.queued.get(this.last).marks.push(name);
    else this.onMark(name);
  }

  /** Barge-in: silence now; marks not reached are never echoed (they were not heard). */
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

/**
 * One call. `events` receives: state(name, detail), transcript({role, text, final,
 * interrupted}), level(0–1), error(message). States: starting → connecting → in-call →
 * ending → ended.
 */
export class BrowserCall {
  constructor(events) {
    this.events = events;
    this.stopping = false;
    this.ended = false;
    this.endReason = null;
    this.callId = null;
  }

  async start(assistantId) {
    this.events.state("starting");
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        channelCount: 1,
        // The assistant's own VAD and transcriber want the raw signal: the browser's
        // processing gates quiet speech and pumps the level.
        echoCancellation: false,
        noiseSuppression: false,
        autoGainControl: false,
      },
    });
    this.context = new AudioContext();
    await this.context.audioWorklet.addModule(WORKLET);
    await this.context.resume();
    if (this.stopping) return this.finish("cancelled");

    const created = await api.post("/api/v1/calls/web", { assistant_id: assistantId });
    this.callId = String(created.call_id);
    if (this.stopping) return this.finish("cancelled");

    this.player = new Player(this.context, (name) => this.sendJson({ type: "mark", name }));
    const url = new URL(created.ws_url, window.location.href);
    if (url.protocol === "http:") url.protocol = "ws:";
    if (url.protocol === "https:") url.protocol = "wss:";
    this.events.state("connecting");
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.socket.onopen = () => this.connectMicrophone();
    this.socket.onmessage = (event) => this.receive(event.data);
    this.socket.onerror = () => this.events.error("The call's connection failed.");
    this.socket.onclose = (event) =>
      this.finish(this.endReason || `connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`);
    return undefined;
  }

  connectMicrophone() {
    this.source = this.context.createMediaStreamSource(this.stream);
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
    this.events.level(Math.min(1, Math.sqrt(sum / (frame.byteLength / 2)) * 4));
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || this.stopping) return;
    if (socket.bufferedAmount > MAX_SOCKET_BACKLOG_BYTES) return;
    socket.send(frame);
  }

  sendJson(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  receive(data) {
    if (data instanceof ArrayBuffer) {
      this.player.enqueue(data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      this.events.error("The server sent a text message that is not JSON.");
      return;
    }
    switch (message.type) {
      case "call-started":
        if (message.call_id !== undefined) this.callId = String(message.call_id);
        if (!this.stopping) this.events.state("in-call");
        break;
      case "transcript":
        this.events.transcript(message);
        break;
      case "mark":
        this.player.mark(String(message.name));
        break;
      case "clear":
        this.player.clear();
        break;
      case "transfer":
        this.events.error(`The assistant transferred the call to ${message.destination}, which a browser cannot follow.`);
        break;
      case "call-ended":
        this.endReason = String(message.reason || "ended");
        this.releaseMicrophone();
        this.events.state("ending");
        // The server closes the socket next; do it ourselves if it does not.
        clearTimeout(this.closeTimer);
        this.closeTimer = setTimeout(() => this.socket.close(1000, "call ended"), HANGUP_GRACE_MS);
        break;
      default:
        break; // newer servers may say more: ignore what we do not know
    }
  }

  /** The end button: hang up, silence the speaker, and give the server a moment to
   * answer with call-ended before closing the socket ourselves. */
  stop() {
    if (this.stopping || this.ended) return;
    this.stopping = true;
    this.releaseMicrophone();
    if (this.player) this.player.clear();
    if (this.sendJson({ type: "hangup" })) {
      this.events.state("ending");
      this.closeTimer = setTimeout(() => this.socket.close(1000, "hung up"), HANGUP_GRACE_MS);
    } else if (this.socket) {
      this.socket.close(1000, "hung up");
    } else {
      this.events.state("ending");
    }
  }

  releaseMicrophone() {
    if (this.source) this.source.disconnect();
    if (this.capture) {
      this.capture.port.onmessage = null;
      this.capture.disconnect();
    }
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.events.level(0);
  }

  finish(reason) {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.closeTimer);
    this.releaseMicrophone();
    // Let a goodbye still queued play out before the context closes.
    const tail = this.player && !this.stopping ? this.player.remainingSeconds : 0;
    const context = this.context;
    if (context) setTimeout(() => context.close(), tail * 1000 + 100);
    this.events.state("ended", reason);
  }
}
