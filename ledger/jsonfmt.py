"""JSON conventions of the formats outside tools rely on (DESIGN.md): bytes are
base64url without padding; hashes are lowercase hex."""

from __future__ import annotations

import base64
import binascii
import re

from .errors import InvalidInput

__all__ = ["b64e", "b64d", "hex_hash"]

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def b64d(text: object, field: str = "", *, length: int | None = None) -> bytes:
    """Decode unpadded base64url, naming `field` in the error."""
    if not isinstance(text, str):
        raise InvalidInput(field, f"expected a base64url string, got {type(text).__name__}")
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise InvalidInput(field, "not base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(field, "not base64url without padding") from None
    if b64e(data) != text:
        raise InvalidInput(field, "not the canonical base64url form")
    if length is not None and len(data) != length:
        raise InvalidInput(field, f"expected {length} bytes, got {len(data)}")
    return data


def hex_hash(text: object, field: str = "") -> bytes:
    """Decode a lowercase-hex SHA-256 hash."""
    if not isinstance(text, str) or not _HEX64.match(text):
        raise InvalidInput(field, "expected 64 lowercase hex characters")
    return bytes.fromhex(text)
