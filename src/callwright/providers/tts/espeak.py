"""eSpeak NG text-to-speech through its CLI: robotic but instant, a fallback voice.

Needs the Debian package ``espeak-ng``. Each ``synthesize`` runs
``espeak-ng --stdout --stdin``, reads the WAV header it writes first and streams the
PCM16 that follows as it arrives; cancelling the iterator kills the process.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from callwright.providers.errors import ProviderRequestError, ProviderUnavailable
from callwright.providers.protocols import TTSOptions

__all__ = ["DEFAULT_ESPEAK_VOICE", "EspeakTTS"]

logger = logging.getLogger(__name__)

DEFAULT_ESPEAK_VOICE = "en-us"
_PROVIDER = "espeak"
_READ_BYTES = 4096
# extra key -> (espeak-ng flag, lowest, highest)
_NUMERIC_OPTIONS = {"rate": ("-s", 80, 450), "pitch": ("-p", 0, 99)}


class EspeakTTS:
    """eSpeak NG voice. ``options.voice_id`` is used when it names an espeak-ng voice
    (``"en-gb"``, ``"gmw/en-US"``, ``"en-us+f3"``), else ``default_voice``.
    ``options.extra`` may set ``rate`` (words a minute, 80–450, default 175) or
    ``speed`` (a multiplier of 175, as the cloud voices take it) and ``pitch`` (0–99,
    default 50). ``binary`` is the executable to run."""

    name = "espeak"
    sample_rate = 22050

    def __init__(
        self, *, binary: str = "espeak-ng", default_voice: str = DEFAULT_ESPEAK_VOICE
    ) -> None:
        self._binary = binary
        self._default_voice = default_voice
        self._voices: frozenset[str] | None = None
        self._warned_voices: set[str] = set()

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        argv = [self._binary, "--stdout", "--stdin"]
        argv += ["-v", await self._resolve_voice(options.voice_id)]
        argv += _numeric_flags(options.extra)
        process = await self._spawn(argv, stdin=asyncio.subprocess.PIPE)
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            # Not awaiting drain: the transport writes as espeak reads, so a long text
            # cannot deadlock against an unread stdout; close() flushes, then sends EOF.
            process.stdin.write(text.encode())
            process.stdin.close()
            await self._read_header(process.stdout)
            odd = b""  # keep every chunk a whole number of 16-bit samples
            while chunk := await process.stdout.read(_READ_BYTES):
                chunk = odd + chunk
                cut = len(chunk) - len(chunk) % 2
                odd = chunk[cut:]
                if cut:
                    yield chunk[:cut]
            await self._check_exit(process)
        finally:
            if process.returncode is None:
                process.kill()  # cancelled (barge-in) or failed mid-stream
            # Read to EOF: a paused stream would otherwise keep its pipe open.
            await process.stdout.read()
            await process.wait()

    async def _spawn(self, argv: list[str], *, stdin: int | None) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=stdin,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise ProviderUnavailable(
                _PROVIDER,
                f"cannot run {self._binary!r} ({exc}); install the Debian package espeak-ng",
            ) from exc

    async def _read_header(self, stdout: asyncio.StreamReader) -> None:
        """Read up to the start of the data chunk, checking the format is ours."""
        try:
            riff = await stdout.readexactly(12)
            if riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
                raise ProviderUnavailable(_PROVIDER, "espeak-ng did not write a WAV stream")
            while True:
                chunk_id, size = struct.unpack("<4sI", await stdout.readexactly(8))
                if chunk_id == b"data":
                    return  # the size is a placeholder when writing to a pipe
                body = await stdout.readexactly(size + size % 2)
                if chunk_id == b"fmt ":
                    encoding, channels, rate = struct.unpack("<HHI", body[:8])
                    bits = struct.unpack("<H", body[14:16])[0]
                    if (encoding, channels, rate, bits) != (1, 1, self.sample_rate, 16):
                        raise ProviderUnavailable(
                            _PROVIDER,
                            f"espeak-ng wrote {bits}-bit {channels}-channel {rate} Hz audio",
                        )
        except asyncio.IncompleteReadError as exc:
            raise ProviderUnavailable(_PROVIDER, "espeak-ng ended before any audio") from exc

    async def _check_exit(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        stderr = (await process.stderr.read()).decode(errors="replace").strip()
        if await process.wait() != 0:
            raise ProviderUnavailable(
                _PROVIDER, f"espeak-ng exited with {process.returncode}: {stderr}"
            )

    async def _resolve_voice(self, voice_id: str | None) -> str:
        if voice_id is None:
            return self._default_voice
        if self._voices is None:
            self._voices = await self._list_voices()
        if voice_id.split("+")[0].lower() in self._voices:
            return voice_id
        if voice_id not in self._warned_voices:
            self._warned_voices.add(voice_id)
            logger.warning("espeak-ng has no voice %r; using %s", voice_id, self._default_voice)
        return self._default_voice

    async def _list_voices(self) -> frozenset[str]:
        process = await self._spawn([self._binary, "--voices"], stdin=asyncio.subprocess.DEVNULL)
        stdout, _ = await process.communicate()
        voices: set[str] = set()
        for line in stdout.decode(errors="replace").splitlines()[1:]:
            # Pty Language Age/Gender VoiceName File (OtherLanguage priority)...
            fields = line.split()
            if len(fields) >= 5:
                voices.update((fields[1].lower(), fields[4].lower()))
        return frozenset(voices)


def _numeric_flags(extra: Mapping[str, Any]) -> list[str]:
    flags: list[str] = []
    for key, (flag, lowest, highest) in _NUMERIC_OPTIONS.items():
        value = extra.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProviderRequestError(_PROVIDER, f"{key} must be a number")
        flags += [flag, str(round(min(max(value, lowest), highest)))]
    speed = extra.get("speed")
    if extra.get("rate") is None and speed is not None:
        # The speaking rate every voice understands (provider_config.speed, a
        # multiplier of espeak's 175 words a minute).
        if isinstance(speed, bool) or not isinstance(speed, int | float) or speed <= 0:
            raise ProviderRequestError(_PROVIDER, "speed must be a positive number")
        flags += ["-s", str(round(min(max(175 * speed, 80), 450)))]
    return flags
