"""Hostile input: an envelope with any one value swapped for any canonical
value must be refused with one of our errors (or accepted), never crash with
TypeError/KeyError. Every node decodes and checks every document of a block;
an input that raised anything else would be a poison document."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.documents import Envelope
from ledger.encoding import canonical
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


def _swap(obj, data):
    """Walk down a random path and replace the value there (or add/drop a map key)."""
    if isinstance(obj, dict) and obj and data.draw(st.integers(0, 3)):
        key = data.draw(st.sampled_from(sorted(obj)))
        op = data.draw(st.integers(0, 9))
        if op == 0:
            return {k: v for k, v in obj.items() if k != key}
        if op == 1:
            return dict(obj, **{data.draw(nfc_text): data.draw(values)})
        return dict(obj, **{key: _swap(obj[key], data)})
    if isinstance(obj, list) and obj and data.draw(st.integers(0, 3)):
        i = data.draw(st.integers(0, len(obj) - 1))
        return obj[:i] + [_swap(obj[i], data)] + obj[i + 1:]
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
