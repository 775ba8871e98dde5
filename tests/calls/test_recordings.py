"""Recording stores: a local folder by default, any S3-compatible store when set (here
moto's S3 server on loopback, spoken to over real HTTP by boto3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from callwright.errors import ValidationFailed
from callwright.runtime.recordings import (
    LocalRecordingStore,
    S3RecordingStore,
    recording_store_for,
)
from callwright.settings import Settings
from tests.server import free_port
from tests.support.optional import require


async def test_local_store_round_trip_and_key_checks(tmp_path: Path) -> None:
    store = LocalRecordingStore(tmp_path)
    await store.put("7/42.wav", b"RIFF....", "audio/wav")
    assert await store.get("7/42.wav") == b"RIFF...."
    assert await store.get("7/43.wav") is None
    assert not list(tmp_path.rglob("*.part"))  # noqa: ASYNC240 (a test assertion)
    for bad in ("../etc/passwd", "/abs.wav", "a/../../b.wav", "sp ace.wav", ""):
        with pytest.raises(ValidationFailed):
            await store.put(bad, b"x", "audio/wav")


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    moto_server = require("moto.server", "the S3 store is tested against moto (dev extra)")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def test_s3_store_round_trip(s3_endpoint: str, tmp_path: Path) -> None:
    import boto3

    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **credentials)
    client.create_bucket(Bucket="calls")
    settings = Settings(
        data_dir=tmp_path,
        secret_key="k" * 48,
        recordings_s3_bucket="calls",
        recordings_s3_endpoint_url=s3_endpoint,
        recordings_s3_region="us-east-1",
        recordings_s3_access_key_id="test",
        recordings_s3_secret_access_key="test",
    )
    store = recording_store_for(settings)
    assert isinstance(store, S3RecordingStore)
    await store.put("7/42.wav", b"RIFF-stereo", "audio/wav")
    assert await store.get("7/42.wav") == b"RIFF-stereo"
    assert await store.get("7/missing.wav") is None
    stored = client.get_object(Bucket="calls", Key="recordings/7/42.wav")
    assert stored["ContentType"] == "audio/wav"
    assert stored["Body"].read() == b"RIFF-stereo"
    client.close()
