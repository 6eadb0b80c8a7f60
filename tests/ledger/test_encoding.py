"""ledger/encoding.py (and the fast decode path in ledger/documents.py): one
value, one encoding; anything else is rejected, never repaired."""

from __future__ import annotations

import unicodedata

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.documents import _decode
from ledger.encoding import canonical, canonical_of_checked, decode_canonical, normalize
from ledger.errors import InvalidInput, NotCanonical, TooLarge
from tests.ledger.factory import make_org

nfc_text = st.text(max_size=20).map(lambda s: unicodedata.normalize("NFC", s))
ints = st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
scalars = st.none() | st.booleans() | ints | nfc_text | st.binary(max_size=40)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(nfc_text, inner, max_size=5), max_leaves=30)
ENVELOPE = make_org().minutes("central/p1/k1/s1").to_bytes()
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _same_outcome(data: bytes):
    """decode_canonical and the fast path agree: same value, or both raise."""
    try:
        expected = decode_canonical(data)
    except InvalidInput:
        expected = InvalidInput
    try:
        got = _decode(data)
    except InvalidInput:
        got = InvalidInput
    if isinstance(expected, dict) or expected is InvalidInput:
        assert got == expected
    return expected


@FAST
@given(values)
def test_round_trip(value):
    data = canonical(value)
    assert decode_canonical(data) == value
    assert canonical(decode_canonical(data)) == data
    _same_outcome(data)


@FAST
@given(values)
def test_canonical_of_checked_values_is_canonical(value):
    """What the registry writes without a second check is byte for byte what canonical writes."""
    assert canonical_of_checked(value) == canonical(value)


@FAST
@given(st.binary(max_size=64))
def test_random_bytes_rejected_or_canonical(data):
    try:
        value = decode_canonical(data)
    except InvalidInput:
        pass
    else:
        assert canonical(value) == data  # every accepted byte string re-encodes to itself
    _same_outcome(data)


@FAST
@given(st.data())
def test_mutated_envelopes(data):
    env = ENVELOPE
    i = data.draw(st.integers(0, len(env) - 1))
    b = data.draw(st.integers(0, 255))
    mutated = env[:i] + bytes([b]) + env[i + 1:]
    value = _same_outcome(mutated)
    if isinstance(value, dict):
        assert canonical(value) == mutated


def test_floats_rejected_with_path():
    with pytest.raises(NotCanonical) as info:
        canonical({"body": {"votes": [{"for": 1.0}]}})
    assert info.value.field == "body.votes[0].for"
    data = msgpack.packb({"a": 1.5}, use_bin_type=True)
    with pytest.raises(NotCanonical):
        decode_canonical(data)
    with pytest.raises(NotCanonical):
        _decode(data)


def test_key_order_and_duplicates():
    data = msgpack.packb({"b": 1, "a": 2}, use_bin_type=True)
    with pytest.raises(NotCanonical, match="out of order"):
        decode_canonical(data)
    with pytest.raises(NotCanonical):
        _decode(data)
    assert canonical({"b": 1, "a": 2}) == msgpack.packb({"a": 2, "b": 1}, use_bin_type=True)
    dup = b"\x82\xa1a\x01\xa1a\x02"
    with pytest.raises(NotCanonical):
        _decode(dup)


def test_nfc():
    nfd = unicodedata.normalize("NFD", "Việt")
    assert nfd != "Việt"
    with pytest.raises(NotCanonical, match="NFC"):
        canonical({"name": nfd})
    raw = msgpack.packb({"name": nfd}, use_bin_type=True)
    with pytest.raises(NotCanonical):
        decode_canonical(raw)
    with pytest.raises(NotCanonical):
        _decode(raw)
    assert canonical(normalize({"name": nfd})) == canonical({"name": "Việt"})


def test_non_minimal_forms_and_trailing_bytes():
    with pytest.raises(NotCanonical):
        decode_canonical(b"\xcc\x05")  # 5 as uint8 instead of a fixint
    with pytest.raises(NotCanonical):
        _decode(b"\x81\xa1a\xcc\x05")
    with pytest.raises(NotCanonical):
        _decode(canonical({"a": 1}) + b"\x00")
    with pytest.raises(NotCanonical):
        _decode(b"\x81\xa1a\xd9\x01x")  # a str8 header for a 1-byte string


def test_depth_limit():
    deep = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(TooLarge):
        canonical({"a": deep})
    with pytest.raises(TooLarge):
        _decode(msgpack.packb({"a": deep}, use_bin_type=True))


@pytest.mark.parametrize("data", [
    b"\xd4\x00\x00",  # fixext 1: msgpack-python hands back ExtType, a namedtuple that once passed as a list
    msgpack.packb({"meta": msgpack.ExtType(5, b"xy")}, use_bin_type=True),
    msgpack.packb({"at": msgpack.Timestamp(1, 0)}, use_bin_type=True, datetime=False),  # ext type -1
])
def test_extension_types_rejected(data):
    with pytest.raises(NotCanonical):
        decode_canonical(data)
    with pytest.raises(NotCanonical):
        _decode(data)


def test_canonical_refuses_extension_types_with_path():
    with pytest.raises(NotCanonical) as info:
        canonical({"body": {"meta": msgpack.ExtType(0, b"\x00")}})
    assert info.value.field == "body.meta" and "extension" in info.value.rule
