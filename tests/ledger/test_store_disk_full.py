"""A write the disk refused leaves the store as it was before that write, even once there is room
again. LevelDB does not make a failed write-ahead-log append sticky (only a failed sync): its log
writer has already moved its block offset past the torn bytes, so the next write that succeeds
lands after them and the log is damaged in the middle; ``paranoid_checks`` then refuses to open
the store (seen in the fault bed: a node whose disk filled and was freed while it was stopping
could not start again, ``Corruption: checksum mismatch``). ``LevelDBStore`` therefore refuses
every write after a failed one until it is opened again. A store on a 1 MiB tmpfs (root only:
mounting needs it)."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from ledger.store import LevelDBStore, StoreWriteError
from tests.disk import fill

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_after_a_refused_write_the_store_refuses_writes_until_reopened_and_opens_clean(small_disk):
    path = str(small_disk / "store")
    store = LevelDBStore(path, write_buffer_bytes=4 << 20)  # nothing flushed to a table meanwhile
    store.write({b"before": b"kept"})
    fill(small_disk / "ballast", room=8192)
    big = {b"big/%03d" % i: os.urandom(1024) for i in range(64)}  # a 64 KiB batch: torn at 8 KiB
    with pytest.raises(StoreWriteError) as refused:
        store.write(big)
    assert refused.value.errno == errno.ENOSPC
    os.unlink(small_disk / "ballast")
    # Room again, but the log holds a torn record, and a write now would land after it: LevelDB
    # says it is written and fsynced, and a reopen drops it with the torn record.
    acknowledged, refusals = [], []
    for i in range(20):
        try:
            store.write({b"after/%02d" % i: b"x"})
            acknowledged.append(b"after/%02d" % i)
        except StoreWriteError as exc:
            refusals.append(str(exc))
    assert store.get(b"before") == b"kept"
    store.close()

    reopened = LevelDBStore(path)  # paranoid_checks: a log damaged in the middle would refuse
    try:
        assert [k for k in acknowledged if reopened.get(k) is None] == [], "a write that returned is gone"
        assert len(refusals) == 20 and all("refused an earlier write" in r for r in refusals)
        assert reopened.get(b"before") == b"kept" and reopened.get(b"big/000") is None
        reopened.write({b"after": b"written"})
        assert reopened.get(b"after") == b"written"
        reopened.verify_all()
    finally:
        reopened.close()
