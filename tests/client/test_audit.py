"""`minutebook audit` over blocks that mix accepted and rejected envelopes
(only accepted ones are leaves): a true chain passes; a rejected envelope
altered in the store, a status flipped in the served block JSON, or a block
with a rejected envelope dropped is reported at the right height and check."""

from __future__ import annotations

import copy

from client.cli_audit import ChainAuditor, audit_local
from ledger.ledger import Ledger
from ledger.store import LevelDBStore, MemoryStore
from tests.ledger.ledger_builder import certify, drive, sample_world


def _mixed_chain(store) -> tuple[dict, Ledger]:
    world = sample_world()
    ledger = Ledger(store, world.genesis)
    g = world.envelopes
    drive(ledger, [g[0], world.make_rejected(1), g[1], b"\x93junk"])
    drive(ledger, [world.make_rejected(2), g[2], g[0]])
    drive(ledger, [g[3], g[4], world.make_rejected(3)])
    for h in (1, 2, 3):
        certify(ledger, h, ["n1", "n2"])
    return world.genesis, ledger


def _replay(genesis: dict, blocks: list[dict], envelopes: list[list[bytes]]) -> ChainAuditor:
    auditor = ChainAuditor("n", genesis)
    for block, envs in zip(blocks, envelopes):
        if auditor.check(block, envs, is_tip=block["height"] == len(blocks)):
            break
    return auditor


def _served(ledger: Ledger) -> tuple[list[dict], list[list[bytes]]]:
    heights = range(1, ledger.height + 1)
    return [ledger.block(h) for h in heights], [list(ledger.proposal(h).envelopes) for h in heights]


def test_audit_passes_on_blocks_with_rejected_envelopes():
    genesis, ledger = _mixed_chain(MemoryStore())
    blocks, envelopes = _served(ledger)
    assert any(d["leaf_index"] is None for d in blocks[0]["documents"])
    auditor = _replay(genesis, blocks, envelopes)
    assert auditor.report.failure is None
    assert auditor.report.height == 3 and auditor.report.documents == 10


def test_audit_catches_a_flipped_status_a_moved_leaf_and_a_dropped_envelope():
    genesis, ledger = _mixed_chain(MemoryStore())
    blocks, envelopes = _served(ledger)

    flipped = copy.deepcopy(blocks)
    entry = flipped[1]["documents"][0]
    entry.update(status="accepted", leaf_index=2)
    entry.pop("reason")
    failure = _replay(genesis, flipped, envelopes).report.failure
    assert (failure.height, failure.check) == (2, "replay") and "document 0" in failure.message

    moved = copy.deepcopy(blocks)
    moved[2]["documents"][1]["leaf_index"] = 5
    failure = _replay(genesis, moved, envelopes).report.failure
    assert (failure.height, failure.check) == (3, "replay")

    dropped = copy.deepcopy(envelopes)
    del dropped[1][0]  # the rejected envelope: the log would not change, tx_root does
    failure = _replay(genesis, blocks, dropped).report.failure
    assert (failure.height, failure.check) == (2, "tx_root")


def test_audit_local_catches_a_rejected_envelope_altered_in_leveldb(tmp_path):
    path = tmp_path / "n1" / "ledger"
    path.mkdir(parents=True)
    store = LevelDBStore(str(path), create=True)
    genesis, _ = _mixed_chain(store)
    store.close()
    report = audit_local(str(tmp_path / "n1"), genesis)
    assert report.failure is None and report.height == 3
    store = LevelDBStore(str(path), create=False)
    # the rejected envelope of block 2, offset 0 (not a leaf; rewritten through the store, so its checksum holds)
    key = b"e/" + (2).to_bytes(8, "big") + (0).to_bytes(8, "big")
    value = store.get(key)
    assert value is not None
    store.write({key: value[:-1] + bytes([value[-1] ^ 1])})
    store.close()
    failure = audit_local(str(tmp_path / "n1"), genesis).failure
    assert (failure.height, failure.check) == (2, "tx_root"), failure


def _directory_bytes(root) -> dict[str, bytes]:
    """Every file under `root` (relative path -> contents): what an audit must leave as it was."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_audit_local_changes_no_byte_of_the_store_it_audits(tmp_path, monkeypatch):
    """LevelDB writes when it opens a store (it replays the log into a table and writes a new
    manifest), so an audit that opened the node's store would rewrite it. Through the CLI, with
    the stopped node's whole data directory compared byte for byte before and after."""
    import json

    from click.testing import CliRunner

    from client.cli import main as cli

    data_dir = tmp_path / "n1"
    data_dir.mkdir()
    store = LevelDBStore(str(data_dir / "ledger"))
    genesis, _ = _mixed_chain(store)
    store.close()  # as a stopped node leaves it: the last batches still in the log, not yet in a table
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    before = _directory_bytes(data_dir)
    assert any(name.endswith(".log") and content for name, content in before.items())

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))  # where the private copy goes by default
    result = CliRunner().invoke(cli, ["audit", "--genesis", str(tmp_path / "genesis.json"), "--local", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "OK local:" in result.output and "3 blocks" in result.output
    assert _directory_bytes(data_dir) == before
    assert list(scratch.iterdir()) == []  # the copy is gone


def test_audit_local_refuses_a_store_a_node_holds_open(tmp_path):
    """LevelDB's lock is per process: another process (the node) holds it here."""
    import json
    import subprocess
    import sys

    from click.testing import CliRunner

    from client.cli import main as cli

    (tmp_path / "n1").mkdir()
    store = LevelDBStore(str(tmp_path / "n1" / "ledger"))
    genesis, _ = _mixed_chain(store)
    store.close()
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    holder = subprocess.Popen([sys.executable, "-c", "import sys, plyvel; db = plyvel.DB(sys.argv[1]); "
                               "print('open', flush=True); sys.stdin.read()", str(tmp_path / "n1" / "ledger")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = CliRunner().invoke(cli, ["audit", "--genesis", str(tmp_path / "genesis.json"),
                                          "--local", str(tmp_path / "n1")])
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert result.exit_code == 2 and "stop the node first" in result.output, result.output
