"""The peer-link frame codec: 4-byte big-endian length, then a msgpack map.

Theory of operation
-------------------
A peer link is a byte stream (TLS over TCP). Each frame on it is::

    length: uint32, big-endian   -- the number of body bytes that follow
    body:   msgpack map          -- {"kind": str, "from": node_id, ...fields}

`kind` says what the frame carries (``"raft"`` with a ``payload`` made by
``consensus.encode_message``, ``"block_sig"``, ``"fetch_blocks"``, ...; see
docs/node-runtime.md). `from` is the sender's node id; the transport sets it
when sending and, on receipt, checks it equals the identity the TLS handshake
authenticated (this module only checks that it is a string).

The codec is pure: no sockets, no clocks. :class:`FrameDecoder` is incremental
(``feed(bytes) -> list[dict]``) so that tests can cut a stream anywhere;
the asyncio transport reads whole frames with :func:`read_length` and
:func:`decode_body` instead, which is the same format.

Limits: a length over ``max_frame_bytes`` is refused *before* its body is read
(a peer cannot make us buffer 4 GiB), and a zero length is refused (an empty
body is not a map). A frame is malformed if its body is not exactly one
msgpack map with a str ``kind`` and a str ``from``. After a malformed frame the
decoder is poisoned: every later ``feed`` raises again, because after a bad
length prefix nothing that follows can be trusted to be a frame boundary.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

from node.errors import FrameError

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "HEADER_BYTES",
    "encode_frame",
    "read_length",
    "decode_body",
    "FrameDecoder",
]

DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
HEADER_BYTES = 4
_LENGTH = struct.Struct(">I")


def encode_frame(frame: dict[str, Any], *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """Length prefix + msgpack body for `frame`; raises FrameError if it breaks a rule.

    Requires `frame` to be a dict with a str ``kind`` and a str ``from``, made
    of msgpack-encodable values (bytes stay bytes; whether floats are allowed
    is the canonical encoding's business, not the link's).
    """
    _check_shape(frame)
    try:
        body = msgpack.packb(frame, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise FrameError(f"cannot encode {frame['kind']!r} frame: {exc}") from None
    if len(body) > max_frame_bytes:
        raise FrameError(f"{frame['kind']!r} frame of {len(body)} bytes exceeds the limit of {max_frame_bytes}")
    return _LENGTH.pack(len(body)) + body


def read_length(header: bytes, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> int:
    """The body length announced by a 4-byte header; raises FrameError if 0 or over the limit."""
    if len(header) != HEADER_BYTES:
        raise FrameError(f"header must be {HEADER_BYTES} bytes, got {len(header)}")
    (length,) = _LENGTH.unpack(header)
    if length == 0:
        raise FrameError("empty frame body")
    if length > max_frame_bytes:
        raise FrameError(f"announced length {length} exceeds the limit of {max_frame_bytes}")
    return length


def decode_body(body: bytes) -> dict[str, Any]:
    """Decode one frame body; raises FrameError unless it is one well-shaped msgpack map."""
    try:
        frame = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException) as exc:  # ExtraData, FormatError, StackError, bad UTF-8, ...
        raise FrameError(f"body is not one msgpack object: {type(exc).__name__}: {exc}") from None
    _check_shape(frame)
    return frame


def _check_shape(frame: Any) -> None:
    if not isinstance(frame, dict):
        raise FrameError(f"body must be a map, got {type(frame).__name__}")
    kind = frame.get("kind")
    if not isinstance(kind, str) or not kind:
        raise FrameError("field 'kind': expected a non-empty str")
    sender = frame.get("from")
    if not isinstance(sender, str) or not sender:
        raise FrameError("field 'from': expected a non-empty str")


class FrameDecoder:
    """Incremental decoder: ``feed(data)`` returns the frames completed so far.

    Raises FrameError on the first bad frame; frames completed earlier in the
    same ``feed`` are in the error's ``frames`` attribute, so none is lost.
    """

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._broken: FrameError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self._broken is not None:
            raise FrameError(f"stream already broken ({self._broken.reason})")
        self._buffer += data
        frames: list[dict[str, Any]] = []
        while len(self._buffer) >= HEADER_BYTES:
            try:
                length = read_length(bytes(self._buffer[:HEADER_BYTES]), max_frame_bytes=self.max_frame_bytes)
                if len(self._buffer) < HEADER_BYTES + length:
                    break
                body = bytes(self._buffer[HEADER_BYTES : HEADER_BYTES + length])
                del self._buffer[: HEADER_BYTES + length]
                frames.append(decode_body(body))
            except FrameError as exc:
                self._broken = exc
                exc.frames = frames
                raise
        return frames
