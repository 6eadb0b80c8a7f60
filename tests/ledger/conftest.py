"""Fixtures shared by the ledger tests."""

from __future__ import annotations

import pytest

from ledger.ledger import Ledger
from ledger.store import LevelDBStore, MemoryStore
from tests.ledger.factory import make_org


@pytest.fixture(params=["memory", "leveldb"])
def make_store(request, tmp_path):
    """A maker of empty stores, run once over MemoryStore and once over LevelDBStore."""
    stores = []

    def make(name="db"):
        store = MemoryStore() if request.param == "memory" else LevelDBStore(str(tmp_path / name))
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def org():
    """tests/ledger/factory.py's organisation (seed 0)."""
    return make_org()


@pytest.fixture
def org_ledger(org):
    """A Ledger over a MemoryStore, from `org`'s genesis."""
    return Ledger(MemoryStore(), org.genesis)
