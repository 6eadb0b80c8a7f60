"""How the views spell their storage keys (every one under ``w/``).

Values are plain msgpack (:func:`pack`): deterministic, so every node and
every rebuild writes the same bytes, and cheaper than the checked canonical
encoder (``ledger.encoding``), which views need not pay for: nothing they
write is signed or hashed.

A time in a key is 8 bytes big-endian of ``t - MIN_MS`` (:func:`time_key`),
so that signed times (dates before 1970) sort in time order; times outside
``ledger.timefmt.MIN_MS..MAX_MS`` are clamped to the bounds (:func:`clamp`)
before they reach a key or a month, so an accepted document can never make a
view fail. A month is ``YYYY-MM`` text (it sorts as it reads). Unit paths,
member ids, types and statuses contain no NUL byte, so ``\\0`` ends them.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import msgpack

from ledger.timefmt import MAX_MS, MIN_MS

__all__ = ["PREFIX", "be8", "unbe8", "time_key", "key_time", "clamp", "name_key", "TIME_KEY_MAX", "pack", "unpack",
           "doc_bytes"]

PREFIX = b"w/"
_u64 = struct.Struct(">Q")
_packers = threading.local()  # one msgpack Packer per thread: reusing one saves making it per value
TIME_KEY_MAX = b"\xff" * 8  # sorts after every time key


def be8(value: int) -> bytes:
    return _u64.pack(value)


def unbe8(data: bytes) -> int:
    return _u64.unpack(data)[0]


def clamp(t: object, default: int) -> int:
    """`t` as a time within MIN_MS..MAX_MS (`default` if it is not an int)."""
    if type(t) is not int:
        return default
    return MIN_MS if t < MIN_MS else MAX_MS if t > MAX_MS else t


def time_key(t: int) -> bytes:
    """8 bytes that sort as `t` does (``t`` already clamped)."""
    return _u64.pack(t - MIN_MS)


def key_time(data: bytes) -> int:
    return _u64.unpack(data)[0] + MIN_MS


def name_key(prefix: bytes, *names: str) -> bytes:
    """``prefix`` + each name followed by NUL: the start of a per-name key range."""
    if len(names) == 1:
        return prefix + names[0].encode() + b"\0"
    return prefix + b"".join(n.encode() + b"\0" for n in names)


def doc_bytes(doc_id: object) -> bytes | None:
    """A doc id (64 lowercase hex) as the 32 raw bytes keys hold, None if it is not one."""
    if not isinstance(doc_id, str) or len(doc_id) != 64:
        return None
    try:
        return bytes.fromhex(doc_id)
    except ValueError:
        return None


def pack(value: Any) -> bytes:
    """`value` as msgpack (bytes as bin, str as str), maps in the order they were built.

    Deterministic because every node (and every rebuild) builds each value by the same
    code from the same inputs; maps whose keys arrive in an order that depends on how
    blocks were batched (counter maps) are sorted before they are packed."""
    packer = getattr(_packers, "pack", None)
    if packer is None:
        packer = _packers.pack = msgpack.Packer(use_bin_type=True).pack
    return packer(value)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False)
