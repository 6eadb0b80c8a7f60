"""One contract suite over MemoryStore and LevelDBStore; durability under
SIGKILL and checksum corruption with the real one."""

from __future__ import annotations

import os
import random
import sys
import textwrap

import plyvel  # tests may bypass the store to damage it on purpose
import pytest

from ledger.errors import CorruptionError
from ledger.store import LevelDBStore, MemoryStore, Overlay, Store, prefix_end
from tests.ledger.crash import run_then_kill

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(params=["memory", "leveldb"])
def store(request, tmp_path):
    if request.param == "memory":
        s = MemoryStore()
    else:
        s = LevelDBStore(str(tmp_path / "db"))
    yield s
    s.close()


ITEMS = {
    b"a": b"1",
    b"a/1": b"2",
    b"a/2": b"3",
    b"a/3": b"",
    b"a\xff": b"5",
    b"a\xff\xff": b"6",
    b"b": b"7",
    b"\xff": b"8",
    b"\xff\xff": b"9",
}


def test_is_a_store(store):
    assert isinstance(store, Store)


def test_get_put_delete(store):
    assert store.get(b"k") is None
    store.write({b"k": b"v", b"empty": b""})
    assert store.get(b"k") == b"v"
    assert store.get(b"empty") == b""
    store.write({b"k": b"w"})
    assert store.get(b"k") == b"w"
    store.write({b"k": None, b"never-there": None})
    assert store.get(b"k") is None


def test_scan_prefix_start_reverse_limit(store):
    store.write(ITEMS)
    keys = sorted(ITEMS)

    def expect(prefix, start=None, reverse=False, limit=None):
        selected = [k for k in keys if k.startswith(prefix)]
        if start is not None:
            selected = [k for k in selected if (k <= start if reverse else k >= start)]
        if reverse:
            selected.reverse()
        if limit is not None:
            selected = selected[:limit]
        return [(k, ITEMS[k]) for k in selected]

    starts = [None, b"", b"a", b"a/", b"a/2", b"a/25", b"a\xff", b"b", b"c", b"\xff", b"\xff\xff\xff"]
    for prefix in [b"", b"a", b"a/", b"a\xff", b"b", b"c", b"\xff", b"\xff\xff"]:
        for start in starts:
            for reverse in (False, True):
                for limit in (None, 0, 1, 2, 100):
                    got = list(store.scan(prefix, start=start, reverse=reverse, limit=limit))
                    assert got == expect(prefix, start, reverse, limit), (prefix, start, reverse, limit)


def test_batch_is_all_or_nothing_on_a_bad_value(store):
    store.write({b"x": b"old"})
    with pytest.raises(Exception):
        store.write({b"x": b"new", b"y": object()})  # not bytes: the batch must not land
    assert store.get(b"x") == b"old"
    assert store.get(b"y") is None


def test_overlay_over_each_store(store):
    store.write({b"a/1": b"1", b"a/2": b"2", b"a/3": b"3"})
    overlay = Overlay(store)
    overlay.put(b"a/4", b"4")
    overlay.delete(b"a/2")
    overlay.put(b"a/1", b"one")
    assert overlay.get(b"a/2") is None and store.get(b"a/2") == b"2"
    assert list(overlay.scan(b"a/")) == [(b"a/1", b"one"), (b"a/3", b"3"), (b"a/4", b"4")]
    assert list(overlay.scan(b"a/", reverse=True, limit=2)) == [(b"a/4", b"4"), (b"a/3", b"3")]
    nested = Overlay(overlay)
    nested.put(b"a/5", b"5")
    nested.merge()
    overlay.commit()
    assert list(store.scan(b"a/")) == [(b"a/1", b"one"), (b"a/3", b"3"), (b"a/4", b"4"), (b"a/5", b"5")]


def test_prefix_end():
    assert prefix_end(b"a") == b"b"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") is None


# --------------------------------------------------------------------------
# The real store only.


def test_leveldb_survives_reopen(tmp_path):
    path = str(tmp_path / "db")
    with LevelDBStore(path) as s:
        s.write({b"k%03d" % i: b"v%d" % i for i in range(100)})
    with LevelDBStore(path, create_if_missing=False) as s:
        assert s.get(b"k042") == b"v42"
        assert s.verify_all() == 101  # 100 values and the meta record


def test_leveldb_refuses_a_missing_or_foreign_database(tmp_path):
    with pytest.raises(Exception):
        LevelDBStore(str(tmp_path / "absent"), create_if_missing=False)
    foreign = str(tmp_path / "foreign")
    db = plyvel.DB(foreign, create_if_missing=True)
    db.put(b"something", b"else")
    db.close()
    with pytest.raises(CorruptionError):
        LevelDBStore(foreign)


def _damage(path: str, key: bytes, change) -> None:
    """Rewrite the raw stored value of `key` with `change(raw)`, bypassing the checksum."""
    db = plyvel.DB(path)
    raw_key = b"d" + key if key != b"M" else key
    raw = db.get(raw_key)
    db.put(raw_key, change(raw), sync=True)
    db.close()


def _flip(position: int):
    def change(raw: bytes) -> bytes:
        b = bytearray(raw)
        b[position % len(b)] ^= 0x01
        return bytes(b)

    return change


@pytest.mark.parametrize("position", [0, 3, 4, 10, -1])  # in the checksum, or in the value
def test_flipped_byte_is_caught_on_get_scan_open_and_verify_all(tmp_path, position):
    path = str(tmp_path / "db")
    with LevelDBStore(path) as s:
        s.write({b"head": b"block 7", b"doc/1": b"x" * 40, b"doc/2": b"y" * 40})
    _damage(path, b"doc/1", _flip(position))
    with LevelDBStore(path) as s:
        assert s.get(b"doc/2") == b"y" * 40  # the rest is still served
        with pytest.raises(CorruptionError):
            s.get(b"doc/1")
        with pytest.raises(CorruptionError):
            list(s.scan(b"doc/"))
        with pytest.raises(CorruptionError):
            s.verify_all()
    _damage(path, b"head", _flip(position))
    with pytest.raises(CorruptionError):
        LevelDBStore(path, check_on_open=[b"head"])


def test_value_moved_under_another_key_is_caught(tmp_path):
    path = str(tmp_path / "db")
    with LevelDBStore(path) as s:
        s.write({b"balance/a": b"100", b"balance/b": b"999"})
    db = plyvel.DB(path)
    db.put(b"dbalance/a", db.get(b"dbalance/b"), sync=True)
    db.close()
    with LevelDBStore(path) as s:
        with pytest.raises(CorruptionError):
            s.get(b"balance/a")


def test_damaged_meta_record_fails_open(tmp_path):
    path = str(tmp_path / "db")
    LevelDBStore(path).close()
    _damage(path, b"M", _flip(6))
    with pytest.raises(CorruptionError):
        LevelDBStore(path)


def test_damaged_table_file_is_caught(tmp_path):
    """Bytes flipped in an on-disk .ldb table: LevelDB's block CRC (verify_checksums) catches it."""
    path = str(tmp_path / "db")
    with LevelDBStore(path) as s:
        s.write({b"k%05d" % i: os.urandom(64) for i in range(2000)})
        s.compact()
    tables = [f for f in os.listdir(path) if f.endswith(".ldb")]
    assert tables
    with open(os.path.join(path, tables[0]), "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CorruptionError):
        with LevelDBStore(path) as s:
            s.verify_all()


# --------------------------------------------------------------------------
# Durability: SIGKILL a writer of multi-key "blocks" at random moments.

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from ledger.store import LevelDBStore

    store = LevelDBStore(sys.argv[1])
    head = store.get(b"head")
    block = int(head) if head is not None else 0
    print("ready", block, flush=True)
    while True:
        block += 1
        changes = {b"blk/%08d/%03d" % (block, j): b"%d:%d:" % (block, j) + b"p" * 100 for j in range(int(sys.argv[3]))}
        changes[b"head"] = b"%d" % block
        store.write(changes)
        print(block, flush=True)
    """
)


def _check_block_boundary(path: str, keys_per_block: int) -> int:
    with LevelDBStore(path, check_on_open=[b"head"]) as s:
        head = s.get(b"head")
        k = int(head) if head is not None else 0
        found = [key for key, _ in s.scan(b"blk/")]
        expected = [b"blk/%08d/%03d" % (b, j) for b in range(1, k + 1) for j in range(keys_per_block)]
        assert found == expected, f"store at head {k} holds {len(found)} block keys, expected {len(expected)}"
        for key, value in s.scan(b"blk/", start=b"blk/%08d/" % max(k, 1), limit=keys_per_block):
            block, j = key.split(b"/")[1:]
            assert value.startswith(b"%d:%d:" % (int(block), int(j)))
        return k


def test_sigkill_never_leaves_a_partial_block(tmp_path):
    path = str(tmp_path / "db")
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    keys_per_block = 25
    rng = random.Random(2024)
    heads = []
    for _ in range(30):
        last = run_then_kill([sys.executable, str(script), path, REPO, str(keys_per_block)], rng, 0.15)
        k = _check_block_boundary(path, keys_per_block)
        # Every write() that returned is durable: nothing acknowledged is lost.
        assert k >= last
        heads.append(k)
    print("heads after each kill:", heads)
    assert heads[-1] > heads[0], "the writer never got anywhere; the test proves nothing"


def test_overlay_read_cache_never_serves_a_stale_value():
    """An Overlay over a Store remembers what it read; after commit() it reads afresh,
    and a nested Overlay does not cache (its base may be written while it lives)."""
    store = MemoryStore()
    store.write({b"k": b"old"})
    top = Overlay(store)
    assert top.get(b"k") == b"old"
    top.put(b"k", b"new")
    assert top.get(b"k") == b"new"
    top.commit()
    assert top.get(b"k") == b"new" and store.get(b"k") == b"new"
    top.delete(b"k")
    top.commit()
    assert top.get(b"k") is None
    sub = Overlay(top)
    assert sub.get(b"j") is None
    top.put(b"j", b"1")
    assert sub.get(b"j") == b"1"


def test_a_store_open_elsewhere_is_refused_with_a_plain_message(tmp_path):
    path = str(tmp_path / "db")
    with LevelDBStore(path):
        with pytest.raises(OSError, match="another process has it open"):
            LevelDBStore(path)
