"""Where call recordings are kept: a local folder by default, or any S3-compatible
store (AWS S3, MinIO, R2, ...) when ``recordings_s3_bucket`` is set.

Both stores do their blocking I/O in a worker thread; boto3 is the S3 client (the
``s3`` extra), imported only when an S3 store is configured.
"""

from __future__ import annotations

import asyncio
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from callwright.errors import ValidationFailed

if TYPE_CHECKING:
    from callwright.settings import Settings

__all__ = [
    "LocalRecordingStore",
    "RecordingSpool",
    "RecordingStore",
    "S3RecordingStore",
    "recording_key",
    "recording_store_for",
    "repaired_wav",
]

_KEY = re.compile(r"^[A-Za-z0-9_./-]{1,300}$")


def _check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key or key.startswith("/"):
        raise ValidationFailed(f"invalid recording key {key!r}")
    return key


def recording_key(organization_id: int, call_id: int) -> str:
    """Where a call's recording is kept in the store."""
    return f"{organization_id}/{call_id}.wav"


class RecordingStore(Protocol):
    """Stores recordings by key (``<organization>/<call>.wav``)."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...


class LocalRecordingStore:
    """Recordings as files under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(path.suffix + ".part")
            partial.write_bytes(data)
            partial.replace(path)  # readers never see half a file

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)

        def read() -> bytes | None:
            return path.read_bytes() if path.is_file() else None

        return await asyncio.to_thread(read)


class S3RecordingStore:
    """Recordings as objects in an S3-compatible bucket (boto3 in a worker thread)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        try:
            import boto3
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "recordings in S3 need the s3 extra: pip install 'callwright[s3]'"
            ) from exc
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    def _object(self, key: str) -> str:
        key = _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=self._object(key),
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes | None:
        def read() -> bytes | None:
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self._object(key))
            except self._client.exceptions.NoSuchKey:
                return None
            body: bytes = response["Body"].read()
            return body

        return await asyncio.to_thread(read)


def recording_store_for(settings: Settings) -> RecordingStore:
    if settings.recordings_s3_bucket:
        return S3RecordingStore(
            settings.recordings_s3_bucket,
            prefix=settings.recordings_s3_prefix,
            endpoint_url=settings.recordings_s3_endpoint_url,
            region=settings.recordings_s3_region,
            access_key_id=settings.recordings_s3_access_key_id,
            secret_access_key=settings.recordings_s3_secret_access_key,
        )
    return LocalRecordingStore(settings.data_dir / "recordings")


_HEADER_BYTES = 44
_STEREO_PCM16_FRAME = 4


def _wav_header(sample_rate: int, data_bytes: int) -> bytes:
    """A 44-byte header of a stereo PCM16 WAV holding ``data_bytes`` of frames."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        2,  # channels: caller left, assistant right
        sample_rate,
        sample_rate * _STEREO_PCM16_FRAME,
        _STEREO_PCM16_FRAME,
        16,
        b"data",
        data_bytes,
    )


def repaired_wav(spooled: bytes) -> bytes | None:
    """A spooled recording as a valid WAV: its sizes (left at zero while it grew) set
    from what was written, a torn last frame dropped. None when it holds no audio."""
    if len(spooled) < _HEADER_BYTES or spooled[:4] != b"RIFF":
        return None
    (sample_rate,) = struct.unpack_from("<I", spooled, 24)
    data = len(spooled) - _HEADER_BYTES
    data -= data % _STEREO_PCM16_FRAME
    if data == 0:
        return None
    return _wav_header(sample_rate, data) + spooled[_HEADER_BYTES : _HEADER_BYTES + data]


class RecordingSpool:
    """Live calls' recordings as they grow, in local files (``<root>/<org>/<call>.wav``):
    a stereo WAV whose header gives no size, appended to after each turn, so that a
    process killed mid-call leaves all but the turn in flight on disk. The call's own
    end stores the whole recording and removes its spool; a call swept because its
    node died has its spool repaired (``repaired_wav``) and stored by the sweeping node
    — one that sees the same folder (the same host, the restarted process, or a
    shared volume). Blocking file I/O: call these methods off the loop."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, organization_id: int, call_id: int) -> Path:
        return self.root / _check_key(recording_key(organization_id, call_id))

    def append(self, organization_id: int, call_id: int, sample_rate: int, frames: bytes) -> None:
        """Append interleaved stereo PCM16 frames (the file is made on first use)."""
        path = self.path(organization_id, call_id)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as created:
                created.write(_wav_header(sample_rate, 0))
        with path.open("ab") as spool:
            spool.write(frames)

    def recover(self, organization_id: int, call_id: int) -> bytes | None:
        """The spooled recording as a valid WAV, or None when there is none."""
        path = self.path(organization_id, call_id)
        if not path.is_file():
            return None
        return repaired_wav(path.read_bytes())

    def remove(self, organization_id: int, call_id: int) -> None:
        self.path(organization_id, call_id).unlink(missing_ok=True)
