"""A node whose data disk fills up stops cleanly: the submission that hit the full disk is
refused with 503 (no 202 is given for what was not journaled), the node logs one line and
stops with the disk failure (node/serve.py exits 75), no traceback, and with room again it
restarts from what is on disk. A single-voter runtime in process, its data on a 16 MiB tmpfs
(root only: mounting needs it)."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from ledger.store import StoreWriteError
from node.config import load_config
from node.errors import NoLeader
from node.runtime import NodeRuntime
from tests.disk import fill
from tests.node.cluster import Cluster

CELL = "central/p1/k1/s1"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path):
    cluster = Cluster(tmp_path, voters=1)
    data = cluster.nodes["n1"].data_dir
    data.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(data)], check=True)
    try:
        yield cluster, data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
        cluster.close()


def test_a_full_disk_stops_the_node_cleanly_and_a_restart_resumes(small_disk, caplog):
    cluster, data = small_disk
    config = load_config(cluster.nodes["n1"].config)

    async def first_life():
        runtime = NodeRuntime(config)
        await runtime.start()
        try:
            while runtime.status()["role"] != "leader":
                await asyncio.sleep(0.02)
            committed = await runtime.submit(cluster.org.minutes(CELL).to_bytes(), wait=True)
            fill(data / "ballast")
            refused = []
            for _ in range(20):  # until a write meets the full disk
                try:
                    await runtime.submit(cluster.org.minutes(CELL).to_bytes(), wait=False)
                except NoLeader as exc:
                    refused.append(exc)
                    break
                await asyncio.sleep(0.05)
            await asyncio.wait_for(runtime.stopped.wait(), 20)
            return committed, refused, runtime._failed
        finally:
            await runtime.stop()

    committed, refused, failed = asyncio.run(first_life())
    # 503, never 500 or a 202: from the submission whose journal write failed ("cannot write to
    # its disk"), or a later one if another write (the Raft log, a block signature) failed first.
    assert refused and refused[0].http_status == 503
    assert any(m in refused[0].message for m in ("cannot write to its disk", "is stopping"))
    assert isinstance(failed, StoreWriteError) and failed.errno == 28  # ENOSPC
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert [r.getMessage() for r in caplog.records if r.levelname == "CRITICAL"] == [
        f"n1: stopping, the data directory refused a write ({failed.strerror})"]

    (data / "ballast").unlink()

    async def second_life():
        runtime = NodeRuntime(config)
        await runtime.start()
        try:
            while runtime.status()["role"] != "leader":
                await asyncio.sleep(0.02)
            return await runtime.submit(cluster.org.minutes(CELL).to_bytes(), wait=True), runtime.ledger.height
        finally:
            await runtime.stop()

    result, height = asyncio.run(second_life())
    assert result["status"] == "committed" and height > committed["receipt"]["block"]["height"]
