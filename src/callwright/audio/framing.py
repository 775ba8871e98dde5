"""Fixed-size framing: a byte stream regrouped into equal frames (e.g. 20 ms) for
codecs and transports, after a resampler that emits audio in bursts."""

from __future__ import annotations

from callwright.audio.formats import PCM16_SILENCE_BYTE, AudioFormat

__all__ = ["FrameSplitter"]


class FrameSplitter:
    """Regroups a byte stream into fixed-size frames (e.g. 20 ms) for codecs and transports.

    ``push`` returns every complete frame and keeps the remainder; ``flush`` returns
    the remainder at the end, padded with the silence byte to a full frame if asked.
    """

    __slots__ = ("_buffer", "frame_size", "silence_byte")

    def __init__(self, frame_size: int, *, silence_byte: int = PCM16_SILENCE_BYTE) -> None:
        if frame_size <= 0:
            raise ValueError(f"frame size must be positive, not {frame_size}")
        if not 0 <= silence_byte <= 0xFF:
            raise ValueError(f"silence byte must be 0..255, not {silence_byte}")
        self.frame_size = frame_size
        self.silence_byte = silence_byte
        self._buffer = bytearray()

    @classmethod
    def for_format(cls, audio_format: AudioFormat, frame_ms: int = 20) -> FrameSplitter:
        """A splitter for ``frame_ms`` frames padded with the format's own silence."""
        return cls(audio_format.frame_bytes(frame_ms), silence_byte=audio_format.silence_byte)

    @property
    def pending(self) -> int:
        """Bytes held back until a full frame arrives."""
        return len(self._buffer)

    def push(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the complete frames now available, oldest first."""
        buffer = self._buffer
        buffer += data
        size = self.frame_size
        usable = len(buffer) - len(buffer) % size
        if not usable:
            return []
        with memoryview(buffer) as view:
            frames = [view[start : start + size].tobytes() for start in range(0, usable, size)]
        del buffer[:usable]  # CPython drops a bytearray's head without moving the rest
        return frames

    def flush(self, pad: bool = True) -> bytes | None:
        """Return and forget the partial frame (padded with silence if ``pad``), or None."""
        if not self._buffer:
            return None
        remainder = bytes(self._buffer)
        self._buffer.clear()
        if pad:
            remainder += bytes((self.silence_byte,)) * (self.frame_size - len(remainder))
        return remainder
