"""node/framing.py: frames survive any cutting of the stream; bad frames raise FrameError."""

from __future__ import annotations

import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.errors import FrameError
from node.framing import FrameDecoder, decode_body, encode_frame, read_length

leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=64) | st.text(max_size=32)
values = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
frames = st.builds(
    lambda kind, sender, extra: {**extra, "kind": kind, "from": sender},
    st.text(min_size=1, max_size=16),
    st.text(min_size=1, max_size=16),
    st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("kind", "from")), values, max_size=4),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(frames, max_size=8), st.data())
def test_any_cutting_of_a_stream_yields_the_same_frames(sent, data):
    stream = b"".join(encode_frame(frame) for frame in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = FrameDecoder()
    received = []
    start = 0
    for cut in cuts + [len(stream)]:
        received += decoder.feed(stream[start:cut])
        start = cut
    assert received == sent
    assert decoder.buffered == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_random_bodies_decode_to_a_frame_or_raise_frame_error(body):
    try:
        frame = decode_body(body)
    except FrameError:
        return
    assert isinstance(frame["kind"], str) and isinstance(frame["from"], str)


def test_length_over_the_limit_is_refused_before_the_body_arrives():
    decoder = FrameDecoder(max_frame_bytes=100)
    with pytest.raises(FrameError, match="exceeds the limit"):
        decoder.feed(struct.pack(">I", 101))
    with pytest.raises(FrameError, match="already broken"):
        decoder.feed(encode_frame({"kind": "k", "from": "n1"}))


def test_good_frames_before_a_bad_one_are_kept_on_the_error():
    good = encode_frame({"kind": "k", "from": "n1"})
    decoder = FrameDecoder()
    with pytest.raises(FrameError) as caught:
        decoder.feed(good + good + struct.pack(">I", 1) + b"\xc1")
    assert caught.value.frames == [{"kind": "k", "from": "n1"}] * 2


@pytest.mark.parametrize(
    "body, rule",
    [
        (msgpack.packb([1, 2]), "must be a map"),
        (msgpack.packb({"from": "n1"}), "'kind'"),
        (msgpack.packb({"kind": "", "from": "n1"}), "'kind'"),
        (msgpack.packb({"kind": "k"}), "'from'"),
        (msgpack.packb({"kind": "k", "from": 7}), "'from'"),
        (msgpack.packb({"kind": "k", "from": "n1"}) + b"\x00", "not one msgpack object"),
        (msgpack.packb({1: 2, "kind": "k", "from": "n1"}), "not one msgpack object"),  # non-str key
        (b"\xa2\xff\xfe", "not one msgpack object"),  # invalid UTF-8 in a str
        (b"\x81", "not one msgpack object"),  # truncated
    ],
)
def test_bad_bodies_name_the_rule(body, rule):
    with pytest.raises(FrameError, match=rule):
        decode_body(body)


def test_encode_refuses_what_decode_would_refuse():
    with pytest.raises(FrameError, match="'kind'"):
        encode_frame({"from": "n1"})
    with pytest.raises(FrameError, match="exceeds the limit"):
        encode_frame({"kind": "k", "from": "n1", "blob": bytes(200)}, max_frame_bytes=100)
    with pytest.raises(FrameError, match="cannot encode"):
        encode_frame({"kind": "k", "from": "n1", "x": {1, 2}})
    assert read_length(struct.pack(">I", 100), max_frame_bytes=100) == 100
    with pytest.raises(FrameError, match="empty"):
        read_length(struct.pack(">I", 0))


def test_raft_messages_survive_a_frame_round_trip():
    """docs/node-runtime.md: Raft messages cross the link as {"kind": "raft", "payload": encode_message(msg)}."""
    from consensus import AppendEntries, Entry, EntryType, decode_message, encode_message

    message = AppendEntries(
        term=3, src="n1", dst="n2", prev_index=4, prev_term=2, commit=4,
        entries=(Entry(term=3, index=5, type=EntryType.NORMAL, data=b"\x00block"),),
    )
    frame = decode_body(encode_frame({"kind": "raft", "from": "n1", "payload": encode_message(message)})[4:])
    assert decode_message(frame["payload"]) == message
