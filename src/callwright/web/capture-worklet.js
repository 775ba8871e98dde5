// The microphone side of a browser call, on the audio rendering thread: downmix to
// mono, resample from the AudioContext's rate (44.1 or 48 kHz, whatever the device
// gives) to 16 kHz, and post 20 ms frames of PCM16 (320 samples) to the page.
//
// Resampling: a windowed-sinc low-pass below 8 kHz (so nothing above the new Nyquist
// folds back into the speech band), then linear interpolation between the filtered
// samples, which is accurate because they no longer hold high frequencies.

const TARGET_RATE = 16000;
const FRAME_SAMPLES = 320; // 20 ms at 16 kHz

function lowPassTaps(ratio) {
  // About 24 taps per unit of decimation keeps the transition band ~4 kHz wide.
  const count = 2 * Math.round(12 * ratio) + 1;
  const middle = (count - 1) / 2;
  const cutoff = 0.45 / ratio; // 7.2 kHz, in cycles per input sample
  const taps = new Float32Array(count);
  let sum = 0;
  for (let n = 0; n < count; n++) {
    const x = n - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const blackman =
      0.42 - 0.5 * Math.cos((2 * Math.PI * n) / (count - 1)) +
      0.08 * Math.cos((4 * Math.PI * n) / (count - 1));
    taps[n] = sinc * blackman;
    sum += taps[n];
  }
  for (let n = 0; n < count; n++) taps[n] /= sum; // unity gain at 0 Hz
  return taps;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the AudioContext's rate (a global of the worklet scope).
    this.ratio = sampleRate / TARGET_RATE;
    this.taps = this.ratio > 1 ? lowPassTaps(this.ratio) : new Float32Array([1]);
    this.history = new Float32Array(this.taps.length - 1); // the previous raw samples
    this.filtered = new Float32Array(0); // filtered samples not yet interpolated past
    this.position = 0; // fractional index of the next output sample in `filtered`
    this.newFrame();
  }

  newFrame() {
    // A DataView writes little-endian whatever the platform's byte order.
    this.frame = new DataView(new ArrayBuffer(FRAME_SAMPLES * 2));
    this.frameLength = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true; // not connected yet
    const length = channels[0].length;

    // Downmix: the node asks for one channel, but a device may still deliver two.
    const mono = new Float32Array(length);
    for (const channel of channels) {
      for (let i = 0; i < length; i++) mono[i] += channel[i] / channels.length;
    }

    // Low-pass: each output sample looks back over taps.length raw samples.
    const raw = new Float32Array(this.history.length + length);
    raw.set(this.history);
    raw.set(mono, this.history.length);
    const taps = this.taps;
    const fresh = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      let acc = 0;
      for (let k = 0; k < taps.length; k++) acc += taps[k] * raw[i + k];
      fresh[i] = acc;
    }
    this.history = raw.slice(length);

    // Interpolate at every `ratio` filtered samples.
    const buffer = new Float32Array(this.filtered.length + length);
    buffer.set(this.filtered);
    buffer.set(fresh, this.filtered.length);
    let position = this.position;
    while (position + 1 < buffer.length) {
      const index = Math.floor(position);
      const fraction = position - index;
      this.push(buffer[index] * (1 - fraction) + buffer[index + 1] * fraction);
      position += this.ratio;
    }
    const consumed = Math.min(Math.floor(position), buffer.length);
    this.filtered = buffer.slice(consumed);
    this.position = position - consumed;
    return true;
  }

  push(sample) {
    const clamped = Math.max(-1, Math.min(1, sample));
    const value = Math.round(clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff);
    this.frame.setInt16(2 * this.frameLength++, value, true);
    if (this.frameLength === FRAME_SAMPLES) {
      // Transfer, not copy: the page sends this very buffer on the WebSocket.
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
      this.newFrame();
    }
  }
}

registerProcessor("capture-processor", CaptureProcessor);
