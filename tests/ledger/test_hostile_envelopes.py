"""Hostile input: an envelope with any one value swapped for any canonical
value must be refused with one of our errors (or accepted), never crash with
TypeError/KeyError. Every node decodes and checks every document of a block;
an input that raised anything else would be a poison document."""

from __future__ import annotations

import hashlib
import unicodedata

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.documents import Envelope, _decode_envelope, salvage_doc_id
from ledger.encoding import canonical, canonical_of_checked, decode_canonical
from ledger.errors import MinutebookError
from ledger.genesis import Genesis
from ledger.registry import Registry
from ledger.store import MemoryStore, Overlay
from tests.ledger.factory import T0, make_org

ORG = make_org(3)
SAMPLES = [e.to_obj() for e in ORG.every_type()]
REGISTRY = Registry.bootstrap(Overlay(MemoryStore()), Genesis.from_json(ORG.genesis))

nfc_text = st.text(max_size=12).map(lambda s: unicodedata.normalize("NFC", s))
scalars = (st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1) | nfc_text | st.binary(max_size=70)
           | st.sampled_from(["minutes", "central", "full", "voter", "create", "a" * 64]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nfc_text, inner, max_size=4),
                      max_leaves=12)

NOT_CANONICAL = values | st.sampled_from([unicodedata.normalize("NFD", "Việt Nam"), 1.5, -0.0, {"b": 1, "a": 2}])


def _leaf_paths(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaf_paths(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaf_paths(v, path + (i,))
    else:
        yield path


def _at(obj, path):
    for step in path:
        obj = obj[step]
    return obj


def _break_leaf(obj, data):
    """`obj` with one leaf (any of them) made non-canonical: a string decomposed (NFD), or a
    float, or a string where another type was."""
    paths = list(_leaf_paths(obj))
    strings = [p for p in paths if isinstance(_at(obj, p), str)]
    path = data.draw(st.sampled_from(strings if strings and data.draw(st.integers(0, 2)) else paths))
    value = _at(obj, path)
    if isinstance(value, str):
        bad = data.draw(st.sampled_from([value + unicodedata.normalize("NFD", "Việt"), 1.5]))
    else:
        bad = data.draw(NOT_CANONICAL)

    def put(node, rest):
        if not rest:
            return bad
        if isinstance(node, dict):
            return dict(node, **{rest[0]: put(node[rest[0]], rest[1:])})
        return node[:rest[0]] + [put(node[rest[0]], rest[1:])] + node[rest[0] + 1:]
    return put(obj, path)


def _swap(obj, data, values=values):
    """Walk down a random path and replace the value there (or add/drop a map key)."""
    if isinstance(obj, dict) and obj and data.draw(st.integers(0, 3)):
        key = data.draw(st.sampled_from(sorted(obj)))
        op = data.draw(st.integers(0, 9))
        if op == 0:
            return {k: v for k, v in obj.items() if k != key}
        if op == 1:
            return dict(obj, **{data.draw(nfc_text): data.draw(values)})
        return dict(obj, **{key: _swap(obj[key], data, values)})
    if isinstance(obj, list) and obj and data.draw(st.integers(0, 3)):
        i = data.draw(st.integers(0, len(obj) - 1))
        return obj[:i] + [_swap(obj[i], data, values)] + obj[i + 1:]
    return data.draw(values)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_swapped_values_raise_only_our_errors(data):
    obj = _swap(data.draw(st.sampled_from(SAMPLES)), data)
    try:
        raw = canonical(obj)
    except MinutebookError:
        return
    try:
        env = Envelope.from_bytes(raw)
        env.verify_signatures()
        REGISTRY.check(env, T0 + 1000)
    except MinutebookError:
        pass


def _outcome(decode):
    """What building an Envelope gives: (the envelope, its doc's canonical bytes and id), or the
    error's (class, field, rule)."""
    try:
        env = decode()
    except MinutebookError as exc:
        return type(exc), exc.field, exc.rule
    return env, env.doc.canonical, env.doc_id


def _reference(raw: bytes) -> Envelope:
    """The path without shortcuts: decode_canonical, then every record's own checks."""
    return Envelope._from_obj(decode_canonical(raw))


def test_every_public_type_takes_the_proven_path():
    """The compiled canonical checkers accept every valid public body (else every node would
    take the slow path and nobody would notice)."""
    for env in ORG.every_type():
        assert _decode_envelope(env.to_bytes())[1], env.doc.type


def _agree(raw: bytes) -> None:
    assert _outcome(lambda: Envelope.from_bytes(raw)) == _outcome(lambda: _reference(raw))
    assert salvage_doc_id(raw) == _reference_salvage(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_decoding_agrees_with_the_reference(data):
    """Envelope.from_bytes (proven shape, compiled schema and canonical checks in one walk, the
    doc sliced out of the bytes) gives the same envelope, or the same error naming the same
    field, as decode_canonical followed by the records' own checks, for any one value swapped,
    canonically encoded or in the samples' own (unsorted) key order."""
    obj = _swap(data.draw(st.sampled_from(SAMPLES)), data)
    try:
        raw = canonical(obj) if data.draw(st.booleans()) else msgpack.packb(obj, use_bin_type=True)
    except (MinutebookError, TypeError, ValueError):
        return
    _agree(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_decoding_refuses_what_the_reference_refuses(data):
    """The same, for an envelope sorted and packed with nothing checked and one leaf made
    non-canonical (a decomposed string, mostly where the schema allows any string, or a float):
    the fast path must not let through what decode_canonical refuses."""
    _agree(canonical_of_checked(_break_leaf(data.draw(st.sampled_from(SAMPLES)), data)))


def _reference_salvage(raw: bytes):
    try:
        obj = decode_canonical(raw)
    except MinutebookError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("doc"), dict):
        return hashlib.sha256(canonical(obj["doc"])).hexdigest()
    return None
