"""Counting tokens offline, to fit passages into ``context_window_tokens``.

The count uses the MiniLM WordPiece tokenizer (the ``tokenizers`` package, already
needed by the offline embeddings; no network). It is a stand-in for the LLM's own
tokenizer, which differs per vendor: on English prose WordPiece counts within about
10% of OpenAI's o200k/cl100k encodings (WordPiece splits rare words a little more, BPE
merges common phrases a little more), so a budget in these tokens is a budget in the
LLM's tokens to that precision. Without the tokenizer installed, the count is an
approximation: words and punctuation marks, plus 20% for sub-word splits.

Chunks are counted once, when they are made, and the count is stored with them, so a
call never tokenizes its passages. Blocking; call in a thread.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["count_tokens", "truncate_to_tokens"]

logger = logging.getLogger(__name__)

_PIECES: Final = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SUBWORD_ALLOWANCE: Final = 1.2
_tokenizer: Any = None
_tokenizer_missing = False
_lock = threading.Lock()


def _load() -> Any:
    global _tokenizer, _tokenizer_missing
    with _lock:
        if _tokenizer is None and not _tokenizer_missing:
            try:
                from tokenizers import Tokenizer

                from callwright.providers.embeddings.minilm import load_model
                from callwright.providers.errors import ProviderUnavailable

                try:
                    loaded, _ = load_model()
                except ProviderUnavailable as exc:
                    raise ImportError(str(exc)) from exc
                # A copy without the embedder's truncation (256) and padding.
                tokenizer = Tokenizer.from_str(loaded.to_str())
                tokenizer.no_truncation()
                tokenizer.no_padding()
                _tokenizer = tokenizer
            except ImportError as exc:
                logger.info("token counts are approximate: %s", exc)
                _tokenizer_missing = True
        return _tokenizer


def _approximate(text: str) -> int:
    return int(len(_PIECES.findall(text)) * _SUBWORD_ALLOWANCE + 0.999)


def count_tokens(texts: Sequence[str]) -> list[int]:
    """Tokens in each text (no special tokens)."""
    tokenizer = _load()
    if tokenizer is None:
        return [_approximate(text) for text in texts]
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
    return [len(encoding.ids) for encoding in encodings]


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of ``text``, cut at a word boundary, within ``limit`` tokens."""
    if limit <= 0:
        return ""
    tokenizer = _load()
    if tokenizer is not None:
        encoding = tokenizer.encode(text, add_special_tokens=False)
        if len(encoding.ids) <= limit:
            return text
        end = encoding.offsets[limit - 1][1]
    else:
        pieces = list(_PIECES.finditer(text))
        allowed = int(limit / _SUBWORD_ALLOWANCE)
        if len(pieces) <= allowed:
            return text
        end = pieces[allowed - 1].end() if allowed > 0 else 0
    cut = text[:end]
    # Do not end inside a word the tokenizer split.
    if end < len(text) and text[end].isalnum() and " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip()
