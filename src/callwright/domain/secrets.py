"""Secrets inside JSON settings documents: which values are secret, and how they are
encrypted at rest, masked in responses and kept when a client sends the mask back.

A value is secret when its key names a credential (``api_key``, ``auth_token``,
``authorization``, ``*_secret`` …), at any depth: provider keys, the Twilio auth token,
fallback keys, and credentials inside free-form provider or tool configuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from callwright.errors import ValidationFailed
from callwright.security.crypto import SecretBox

__all__ = [
    "decrypt_secrets",
    "encrypt_secrets",
    "is_secret_key",
    "mask",
    "mask_secrets",
    "restore_masked_secrets",
]

_SECRET_KEY_RE = re.compile(
    r"^(api[_-]?key|x-api-key|auth[_-]?token|access[_-]?token|bearer[_-]?token|token|secret"
    r"|client[_-]?secret|password|authorization|private[_-]?key)$"
    r"|([_-](api[_-]?key|secret|token|password))$",
    re.IGNORECASE,
)
_FULL_MASK = "********"
_ELLIPSIS = "…"


def is_secret_key(key: str) -> bool:
    return _SECRET_KEY_RE.search(key) is not None


def mask(secret: str) -> str:
    """``sk-…abcd`` for long secrets; a fixed mask for short ones, which would leak."""
    if len(secret) >= 16:
        return f"{secret[:3]}{_ELLIPSIS}{secret[-4:]}"
    return _FULL_MASK


def looks_masked(value: str) -> bool:
    return value == _FULL_MASK or (len(value) == 8 and value[3] == _ELLIPSIS)


def _map_secrets(document: Any, transform: Callable[[str], str]) -> Any:
    if isinstance(document, dict):
        return {
            key: (
                transform(value)
                if isinstance(value, str) and is_secret_key(key)
                else _map_secrets(value, transform)
            )
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_map_secrets(item, transform) for item in document]
    return document


def encrypt_secrets(document: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    result: dict[str, Any] = _map_secrets(document, box.encrypt)
    return result


def decrypt_secrets(document: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    result: dict[str, Any] = _map_secrets(
        document, lambda value: box.decrypt(value) if box.is_encrypted(value) else value
    )
    return result


def mask_secrets(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _map_secrets(document, mask)
    return result


def restore_masked_secrets(incoming: Any, stored: Any, path: str = "") -> Any:
    """Put the stored secret back wherever ``incoming`` carries its mask.

    Walks both documents in step (dict keys, list indices). A masked value with no
    stored secret behind it is refused: storing the mask itself would lose the key.
    """
    if isinstance(incoming, dict):
        stored_dict = stored if isinstance(stored, dict) else {}
        result: dict[str, Any] = {}
        for key, value in incoming.items():
            child = f"{path}.{key}" if path else key
            if isinstance(value, str) and is_secret_key(key) and looks_masked(value):
                previous = stored_dict.get(key)
                if not isinstance(previous, str) or mask(previous) != value:
                    raise ValidationFailed(
                        f"{child} holds a masked value but no stored secret matches it; "
                        "send the real secret",
                        details=[
                            {
                                "field": child,
                                "message": "masked value without a matching stored secret",
                                "type": "masked_secret",
                            }
                        ],
                    )
                result[key] = previous
            else:
                result[key] = restore_masked_secrets(value, stored_dict.get(key), child)
        return result
    if isinstance(incoming, list):
        stored_list = stored if isinstance(stored, list) else []
        return [
            restore_masked_secrets(
                item,
                stored_list[index] if index < len(stored_list) else None,
                f"{path}[{index}]",
            )
            for index, item in enumerate(incoming)
        ]
    return incoming
