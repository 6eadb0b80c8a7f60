"""Hostile bytes at the three places outsiders' bytes enter: the peer frame decoder
(node/framing.py), the canonical decoder (ledger/encoding.py) and the receipt verifier
(client/verify.py). Hypothesis generates the input; whatever it is, the answer is the typed
error of that layer (FrameError; NotCanonical or TooLarge; ProofFailed) or a correct result,
never another exception, and memory stays bounded (tracemalloc's peak against a budget a few
times the input, so a length prefix or a container header claiming gigabytes buys nothing)."""

from __future__ import annotations

import copy
import json
import struct
import tracemalloc

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.verify import verify_receipt
from ledger.encoding import decode_canonical
from ledger.errors import MinutebookError, NotCanonical, ProofFailed, TooLarge
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from node.errors import FrameError
from node.framing import FrameDecoder, encode_frame
from tests.ledger.ledger_builder import certify, drive, sample_world

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_FRAME = 64 << 10


def _bounded(run, budget: int):
    """Run `run()` and return its result; fail if it allocated more than `budget` bytes at its peak."""
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= budget, f"peak {peak} bytes over a budget of {budget}"
    return result


# Bytes shaped to hurt: container headers claiming 2**32-1 items, a str/bin header claiming 4 GiB,
# nesting 100,000 deep, extension types, and a frame length prefix claiming 4 GiB.
BOMBS = [
    b"\xdd\xff\xff\xff\xff",            # array32 of 4,294,967,295 items
    b"\xdf\xff\xff\xff\xff",            # map32 likewise
    b"\xdb\xff\xff\xff\xff" + b"x" * 16,  # str32 of 4 GiB
    b"\xc6\xff\xff\xff\xff",            # bin32 of 4 GiB
    b"\x91" * 100_000 + b"\xc0",        # nested 100,000 deep
    b"\xd4\x05\x00",                    # fixext1
    b"\xc7\x00\xff",                    # ext8 of type -1 (timestamp) with no data
    b"\x81\xa1a" * 40 + b"\xc0",        # maps nested 40 deep
]
byte_inputs = st.one_of(st.binary(max_size=2048), st.sampled_from(BOMBS),
                        st.builds(lambda b, tail: b + tail, st.sampled_from(BOMBS), st.binary(max_size=64)))


# -- the peer frame decoder ---------------------------------------------------


def _frames_stream(draw) -> bytes:
    good = [encode_frame({"kind": "raft", "from": "n2", "payload": draw(st.binary(max_size=200))})
            for _ in range(draw(st.integers(0, 3)))]
    hostile = draw(st.one_of(
        st.binary(max_size=512),
        st.builds(lambda n, b: struct.pack(">I", n) + b, st.integers(0, 2**32 - 1), st.binary(max_size=256)),
        st.builds(lambda b: struct.pack(">I", len(b)) + b, byte_inputs),
    ))
    return b"".join(good) + hostile


@FUZZ
@given(stream=st.composite(lambda draw: _frames_stream(draw))(), cuts=st.lists(st.integers(1, 600), max_size=8))
def test_the_frame_decoder_answers_frames_or_frame_error_in_bounded_memory(stream, cuts):
    def run():
        decoder = FrameDecoder(max_frame_bytes=MAX_FRAME)
        frames = []
        position = 0
        for size in cuts + [len(stream)]:
            chunk = stream[position:position + size]
            position += size
            try:
                frames.extend(decoder.feed(chunk))
            except FrameError as exc:
                frames.extend(exc.frames)
                with pytest.raises(FrameError):  # poisoned: nothing after a bad frame is trusted
                    decoder.feed(b"\x00\x00\x00\x01\x80")
                break
            assert decoder.buffered <= MAX_FRAME + 4
        return frames

    frames = _bounded(run, budget=8 * MAX_FRAME + len(stream) * 8 + (1 << 20))
    for frame in frames:
        assert isinstance(frame, dict) and isinstance(frame["kind"], str) and isinstance(frame["from"], str)


# -- the canonical decoder ------------------------------------------------------


@FUZZ
@given(data=byte_inputs)
def test_the_canonical_decoder_answers_a_value_or_its_typed_error_in_bounded_memory(data):
    def run():
        try:
            return decode_canonical(data)
        except (NotCanonical, TooLarge) as exc:
            assert isinstance(exc.field, str)
            return exc

    result = _bounded(run, budget=len(data) * 64 + (2 << 20))
    if not isinstance(result, MinutebookError):
        assert msgpack.packb(result, use_bin_type=True) == data  # accepted only if it is the canonical form


# -- the receipt verifier ---------------------------------------------------------


@pytest.fixture(scope="module")
def receipt_and_genesis():
    world = sample_world()
    ledger = Ledger(MemoryStore(), world.genesis)
    drive(ledger, world.envelopes)
    certify(ledger, 1, ["n1", "n2"])
    doc_id = ledger.block(1)["documents"][3]["doc_id"]
    return ledger.receipt(doc_id), world.genesis


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutations(draw, receipt):
    mutated = copy.deepcopy(receipt)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(mutated) if p]
        path = draw(st.sampled_from(paths))
        parent = mutated
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "flip"]))
        if action == "delete":
            del parent[key]
        elif action == "flip" and isinstance(parent[key], str) and parent[key]:
            text = parent[key]
            i = draw(st.integers(0, len(text) - 1))
            parent[key] = text[:i] + draw(st.sampled_from("0af-_A=Z~")) + text[i + 1:]
        else:
            parent[key] = draw(json_values)
    return mutated


def test_a_mutated_receipt_fails_with_proof_failed_or_proves_the_same_document(receipt_and_genesis):
    receipt, genesis = receipt_and_genesis
    truth = verify_receipt(receipt, genesis)

    @FUZZ
    @given(mutated=mutations(receipt))
    def check(mutated):
        def run():
            try:
                return verify_receipt(json.loads(json.dumps(mutated)), genesis)
            except ProofFailed as exc:
                return exc

        result = _bounded(run, budget=16 << 20)
        if not isinstance(result, ProofFailed):  # e.g. the certificate entries reordered: still the truth
            assert (result.doc_id, result.leaf_index, result.height, result.log_root) == (
                truth.doc_id, truth.leaf_index, truth.height, truth.log_root)

    check()
