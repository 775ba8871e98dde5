"""Audio below the engine: formats, the G.711 μ-law codec, streaming resampling,
fixed-size framing, loudness and noise suppression.

Inside the call engine audio is always PCM16: signed 16-bit little-endian mono samples
(``formats.ENGINE_FORMAT``, 16 kHz). Audio is converted only at the edges:

- telephony (Twilio Media Streams) carries 8 kHz G.711 μ-law, one byte a sample, in
  20 ms frames of 160 bytes (``formats.TWILIO_FORMAT``);
- browsers send 16 kHz PCM16 (``formats.BROWSER_FORMAT``), 20 ms = 640 bytes;
- TTS voices produce PCM16 at 16,000, 22,050 or 24,000 Hz.

One module a concern: ``formats`` (encodings, frame sizes), ``codec`` (μ-law),
``resample`` (``Resampler``), ``framing`` (``FrameSplitter``), ``loudness``
(``pcm16_rms_dbfs``) and ``denoise`` (``NoiseSuppressor``). Transports, providers and
the engine all import from here; nothing here imports from above it.
"""
