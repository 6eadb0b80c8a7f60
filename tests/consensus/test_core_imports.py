"""consensus/ is a pure state machine: stdlib only, and no clocks, sockets, threads, OS or global random.

Simulator modules (``simulator.py``, ``sim_*.py``) are test harness kept beside
the core and may use ``random.Random``; they are checked for third-party
imports only.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import consensus

CONSENSUS = Path(__file__).resolve().parents[2] / "consensus"
FORBIDDEN = {"asyncio", "socket", "threading", "time", "os", "random"}


def _is_harness(path: Path) -> bool:
    return path.name == "simulator.py" or path.name.startswith("sim_")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("path", sorted(CONSENSUS.glob("*.py")), ids=lambda p: p.name)
def test_core_imports_only_the_allowed_stdlib(path):
    allowed = set(sys.stdlib_module_names) | {"consensus", "__future__"}
    for lineno, module in _imports(path):
        assert module in allowed, f"{path.name}:{lineno} imports non-stdlib {module}"
        if not _is_harness(path):
            assert module not in FORBIDDEN, f"{path.name}:{lineno} imports {module}"


def test_the_checker_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom time import monotonic\nimport random as r\n")
    assert {m for _, m in _imports(bad)} & FORBIDDEN == {"os", "time", "random"}


def test_all_names_the_documented_api():
    documented = {"RawNode", "Config", "MemoryLogStorage", "LogStorage", "Ready", "SoftState", "HardState",
                  "Entry", "EntryType", "ConfState", "ConfChange", "ConfChangeType", "Snapshot",
                  "SnapshotMetadata", "ReadState", "Role", "Status", "encode_message", "decode_message"}
    messages = {"RequestVote", "RequestVoteResponse", "AppendEntries", "AppendEntriesResponse",
                "Heartbeat", "HeartbeatResponse", "InstallSnapshot", "InstallSnapshotResponse", "ReadIndexRequest",
                "ReadIndexResponse", "TimeoutNow"}
    assert set(consensus.__all__) == documented | messages
    assert len(consensus.__all__) == len(set(consensus.__all__))
    for name in consensus.__all__:
        assert hasattr(consensus, name)
    from consensus.errors import ConsensusError, MalformedMessage, NotLeader, ProposalDropped  # noqa: F401
