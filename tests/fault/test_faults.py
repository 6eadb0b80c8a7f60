"""The fault bed's short run (marker ``fault``; ``.ci/run`` runs it after the suite; the long run is
``scripts/faults.py --schedules 30``): a few schedules of real network namespaces that still
partition, isolate the leader, cut one way, pause and kill, each checked by tests/fault/bed.py's
checker (nothing acknowledged lost or duplicated, no fork, every certificate and tree head good,
commits again soon after healing, no traceback in any node's log)."""

from __future__ import annotations

import pytest

from tests.fault.bed import format_table, run_schedule
from tests.fault.netbed import available

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]

WHY_NOT = available()

SHORT = [  # (seed, nodes, nemeses): fixed, so a failure replays with scripts/faults.py
    (101, 3, ["partition", "isolate-leader", "pause", "kill"]),
    (202, 3, ["one-way", "link-down", "pause", "kill", "clock"]),
    (303, 5, ["partition", "bridge", "kill", "disk-full", "lossy"]),
]


@pytest.mark.skipif(WHY_NOT is not None, reason=f"fault bed unavailable: {WHY_NOT}")
@pytest.mark.parametrize("seed,nodes,nemeses", SHORT, ids=[f"seed{s}-{n}nodes" for s, n, _ in SHORT])
def test_a_short_schedule_loses_nothing(tmp_path, seed, nodes, nemeses):
    row = run_schedule(tmp_path, schedule=seed, seed=seed, nodes=nodes, duration=20, nemeses=nemeses, run=100 + seed % 100)
    print(format_table([row]))
    for line in row.info + row.notes:
        print(line)
    assert row.nemeses, "no nemesis ran"
    assert (row.lost, row.duplicated, row.forks, row.bad_certificates, row.inconsistent_heads) == (0, 0, 0, 0, 0), \
        format_table([row]) + "\n" + "\n".join(row.notes)
    assert row.recovery_s is not None, "no commit within the recovery bound after healing"
    assert row.notes == []
    assert row.acked > 0
