"""The one canonical encoding: everything signed or hashed goes through here.

Canonical form is msgpack restricted so that a value has exactly one encoding:

- types: ``None``, ``bool``, ``int`` (-2**63 .. 2**64-1), ``str``, ``bytes``,
  ``list`` and ``dict`` with ``str`` keys. No floats, no extension types.
- ``str`` is valid UTF-8 in Unicode NFC. Vietnamese (and much else) has composed
  and decomposed spellings that look identical; accepting both would give one
  document two ids, so non-NFC input is rejected and the SDK normalises
  (:func:`normalize`) *before* signing.
- map keys are unique and sorted by their UTF-8 bytes (for ``str`` that is code
  point order, which is Python's ``sorted``).
- every length and integer uses msgpack's shortest form (what msgpack-python
  emits), ``str`` as the str family and ``bytes`` as the bin family.

:func:`decode_canonical` rejects rather than repairs: it decodes, walks the
value checking the rules above (so the error names the offending field path,
e.g. ``body.attendees[3].member``), then re-encodes and requires the very same
bytes, which catches what a walk cannot see (duplicate keys, non-minimal
integer or length forms, trailing bytes).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import msgpack

from .errors import NotCanonical, TooLarge

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_DEPTH",
    "MAX_CONTAINER_LEN",
    "MAX_STR_BYTES",
    "canonical",
    "canonical_of_checked",
    "decode_canonical",
    "normalize",
    "check_canonical_value",
]

MAX_DOCUMENT_BYTES = 1 << 20  # 1 MiB for one document (its canonical bytes)
MAX_DEPTH = 32  # nesting of lists and maps
MAX_CONTAINER_LEN = 100_000  # items in one list or map
MAX_STR_BYTES = 1 << 20  # one str or bytes value
INT_MIN = -(1 << 63)
INT_MAX = (1 << 64) - 1


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_canonical_value(value: Any, path: str = "", depth: int = 0) -> None:
    """Raise NotCanonical/TooLarge naming the first field that breaks a rule.

    Tuples are accepted as lists (they encode identically).
    """
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise NotCanonical(path, f"integer out of range -2**63..2**64-1, got {value}")
        return
    if isinstance(value, str):
        if len(value) > MAX_STR_BYTES:
            raise TooLarge(path, f"string longer than {MAX_STR_BYTES} characters")
        if not unicodedata.is_normalized("NFC", value):
            raise NotCanonical(path, "string is not Unicode NFC (normalise it before signing)")
        return
    if isinstance(value, (bytes, bytearray)):
        if len(value) > MAX_STR_BYTES:
            raise TooLarge(path, f"bytes longer than {MAX_STR_BYTES}")
        return
    if isinstance(value, float):
        raise NotCanonical(path, f"floats are not allowed, got {value!r} (use an integer)")
    if isinstance(value, msgpack.ExtType):  # a namedtuple: it must not pass as a list below
        raise NotCanonical(path, f"msgpack extension types are not allowed, got ext type {value.code}")
    if isinstance(value, msgpack.Timestamp):  # ext type -1, which msgpack decodes by itself
        raise NotCanonical(path, "msgpack extension types are not allowed, got ext type -1 (timestamp)")
    if depth >= MAX_DEPTH:
        raise TooLarge(path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_CONTAINER_LEN:
            raise TooLarge(path, f"list longer than {MAX_CONTAINER_LEN} items")
        for i, item in enumerate(value):
            check_canonical_value(item, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        if len(value) > MAX_CONTAINER_LEN:
            raise TooLarge(path, f"map larger than {MAX_CONTAINER_LEN} entries")
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(path, f"map keys must be strings, got {type(key).__name__} {key!r}")
            if not unicodedata.is_normalized("NFC", key):
                raise NotCanonical(_join(path, key), "map key is not Unicode NFC")
            check_canonical_value(item, _join(path, key), depth + 1)
        return
    raise NotCanonical(path, f"type {type(value).__name__} is not allowed in a canonical value")


_LEAVES = frozenset({str, int, bytes, bool, type(None)})  # values _sorted returns as they are


def _sorted(value: Any) -> Any:
    """`value` with every map's keys in sorted order (what msgpack then packs canonically).

    Speed: every node encodes registry state for every document through here, so
    the common types are tested by identity and leaves are not recursed into."""
    t = type(value)
    if t is dict:
        out = {}
        for k in sorted(value):
            v = value[k]
            out[k] = v if type(v) in _LEAVES else _sorted(v)
        return out
    if t is list or t is tuple:
        return [v if type(v) in _LEAVES else _sorted(v) for v in value]
    if isinstance(value, dict):  # subclasses, as check_canonical_value accepts them
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted(v) for v in value]
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def canonical(value: Any, *, max_bytes: int | None = None) -> bytes:
    """The canonical bytes of `value`; raises rather than repairing bad input."""
    check_canonical_value(value)
    data = msgpack.packb(_sorted(value), use_bin_type=True)
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge("", f"encoded size {len(data)} bytes is over the limit of {max_bytes}")
    return data


def canonical_of_checked(value: Any) -> bytes:
    """The canonical bytes of a value built only from parts already checked
    (fields of validated documents, ints, bools, bytes): what :func:`canonical`
    gives, without walking it again to check it. For the registry's state,
    which every node writes for every document; anything from outside goes
    through :func:`canonical`."""
    return msgpack.packb(_sorted(value), use_bin_type=True)


def _check_key_order(value: Any, path: str = "") -> None:
    if isinstance(value, dict):
        keys = list(value)
        for a, b in zip(keys, keys[1:]):
            if not a < b:
                raise NotCanonical(_join(path, b), f"map keys out of order: {a!r} must sort after {b!r}")
        for k, v in value.items():
            _check_key_order(v, _join(path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_key_order(v, f"{path}[{i}]")


def decode_canonical(data: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Decode `data` and prove it is canonical, or raise NotCanonical/TooLarge."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise NotCanonical("", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise TooLarge("", f"{len(data)} bytes is over the limit of {max_bytes}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=False,  # non-str keys are rejected below, with a path
            timestamp=0,  # ext -1 stays an ExtType-like Timestamp; extensions are refused below, with a path
        )
    except msgpack.ExtraData:
        raise NotCanonical("", "trailing bytes after the value") from None
    except msgpack.exceptions.StackError:
        raise TooLarge("", f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, msgpack.UnpackException, UnicodeDecodeError, TypeError) as exc:
        raise NotCanonical("", f"not valid msgpack: {exc}") from None
    except RecursionError:
        raise TooLarge("", f"nested deeper than {MAX_DEPTH} levels") from None
    check_canonical_value(value)
    _check_key_order(value)
    if msgpack.packb(value, use_bin_type=True) != data:
        raise NotCanonical("", "not the canonical encoding (duplicate keys or a non-minimal length or integer form)")
    return value


def normalize(value: Any) -> Any:
    """NFC-normalise every string (keys too) and turn tuples into lists.

    For the SDK, before signing; the ledger itself never repairs input.
    """
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {normalize(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return value
