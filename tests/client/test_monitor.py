"""client/monitor.py and `minutebook monitor`: a forked lower ledger (two
nodes made to sign different trees at one size, or trees no proof joins) is
caught with the evidence; a restart leaves no gap; a growing ledger and its
witness pass."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from client.cli import main
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.signed_note import VerifierKey
from ledger.store import MemoryStore
from node.checkpoint_pusher import CheckpointPusher
from node.config import WitnessedLog, WitnessTarget
from node.witness import Witness
from ledger.keys import generate_seed
from tests.ledger.ledger_builder import NODE_SEEDS, sample_world
from tests.node.service_double import ServiceDouble, serve
from tests.node.test_checkpoints_api import push
from tests.node.witness_double import WitnessNode

VOTERS = {n: NODE_SEEDS[n] for n in ("n1", "n2", "n3")}


@pytest.fixture()
def world():
    return sample_world()


def node(world, docs) -> ServiceDouble:
    service = ServiceDouble(world.genesis, VOTERS)
    service.apply(world.envelopes)
    for i, signers in docs:
        service.apply([world.make_doc(i, signers)])
    return service


def run(tmp_path, world, *sources, extra=()):
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(world.genesis), encoding="utf-8")
    args = ["monitor", "--genesis", str(genesis), "--state", str(tmp_path / "monitor.json"), "--once", *extra]
    for kind, url in sources:
        args += [f"--{kind}", url]
    return CliRunner().invoke(main, args)


def genesis_keys(service) -> list[VerifierKey]:
    return list(service.checkpoints.voter_keys(1).values())


def test_two_nodes_signing_different_trees_at_one_size_are_a_fork_with_evidence(tmp_path, world):
    a = node(world, [(i, 1) for i in range(1, 5)])
    b = node(world, [(i + 10, 2) for i in range(4)])  # the same genesis and voters, other documents
    assert a.ledger.head().log_size == b.ledger.head().log_size
    with serve(a) as url_a, serve(b) as url_b:
        result = run(tmp_path, world, ("ledger", url_a), ("ledger", url_b))
    assert result.exit_code == 1, result.output
    evidence = json.loads(result.stdout)
    assert evidence["fork"] is True and "same tree size" in evidence["reason"]
    notes = [c["checkpoint"] for c in evidence["checkpoints"]]
    assert {c["source"] for c in evidence["checkpoints"]} == {url_a, url_b}
    checked = [verify_checkpoint(n, genesis_keys(a), origin=a.checkpoints.origin) for n in notes]
    assert checked[0].checkpoint.size == checked[1].checkpoint.size
    assert checked[0].checkpoint.root_hash != checked[1].checkpoint.root_hash
    assert json.loads((tmp_path / "monitor.json.fork.json").read_text()) == evidence


def test_trees_no_consistency_proof_joins_are_a_fork(tmp_path, world):
    a = node(world, [(i, 1) for i in range(1, 4)])
    b = node(world, [(i + 10, 1) for i in range(6)])  # a larger tree that does not extend a's
    with serve(a) as url_a, serve(b) as url_b:
        result = run(tmp_path, world, ("ledger", url_a), ("ledger", url_b))
    assert result.exit_code == 1, result.output
    evidence = json.loads(result.stdout)
    assert "no consistency proof joins" in evidence["reason"]
    assert evidence["proofs"] and evidence["proofs"][0]["source"] == url_b


def test_a_restarted_monitor_checks_against_what_it_accepted_before(tmp_path, world):
    a = node(world, [(i, 1) for i in range(1, 4)])
    with serve(a) as url_a:
        first = run(tmp_path, world, ("ledger", url_a))
    assert first.exit_code == 0, first.output
    state = json.loads((tmp_path / "monitor.json").read_text())
    assert state["version"] == 1 and Checkpoint.from_text(state["checkpoint"].split("\n\n")[0] + "\n").size == 9
    # later, only the fork is reachable: the monitor still remembers the honest tree
    b = node(world, [(i + 10, 1) for i in range(3)])
    with serve(b) as url_b:
        second = run(tmp_path, world, ("ledger", url_b))
    assert second.exit_code == 1 and "same tree size" in json.loads(second.stdout)["reason"]


def test_a_growing_ledger_and_its_witness_pass(tmp_path, world):
    a = node(world, [(1, 1)])
    seed = generate_seed()
    witness = Witness("central.example/w", seed, [WitnessedLog(origin=a.checkpoints.origin,
                                                               keys=tuple(genesis_keys(a)), signatures=2)],
                      MemoryStore())
    with serve(a) as url_a, serve(WitnessNode(witness, world.genesis)) as url_w:
        push(CheckpointPusher(a.checkpoints, [WitnessTarget(url=url_w, keys=(witness.key,))], interval=1))
        cosigner = ["--witness-key", witness.key.text]
        first = run(tmp_path, world, ("ledger", url_a), ("witness", url_w), extra=cosigner)
        assert first.exit_code == 0, first.output
        assert first.output.count("OK ") == 2
        for i in range(1, 4):
            a.apply([world.make_doc(i, 2)])
        second = run(tmp_path, world, ("ledger", url_a), ("witness", url_w))
        assert second.exit_code == 0, second.output
        size = a.ledger.head().log_size
        assert f"state: {size} documents" in second.output
        # without the witness having cosigned the new head, requiring its cosignature warns about the ledger
        third = run(tmp_path, world, ("ledger", url_a), ("witness", url_w), extra=cosigner)
        assert third.exit_code == 0 and "WARN " in third.output and "no cosignature from witness" in third.output


def test_bad_sources_warn_and_none_usable_exits_3(tmp_path, world):
    a = node(world, [(1, 1)])
    impostor = ServiceDouble(world.genesis, {"n4": NODE_SEEDS["n4"], "n5": NODE_SEEDS["n5"]})  # not voters
    impostor.apply(world.envelopes)  # a ledger whose checkpoints nobody trusted signed: 404
    with serve(a) as url_a, serve(impostor) as url_i:
        ok = run(tmp_path, world, ("ledger", url_a), ("ledger", url_i), ("ledger", "http://127.0.0.1:9"))
        assert ok.exit_code == 0, ok.output
        assert ok.output.count("WARN ") == 2
        (tmp_path / "x").mkdir()
        none = run(tmp_path / "x", world, ("ledger", url_i))
    assert none.exit_code == 3


def test_a_damaged_state_file_is_exit_2(tmp_path, world):
    (tmp_path / "monitor.json").write_text("{not json", encoding="utf-8")
    a = node(world, [(1, 1)])
    with serve(a) as url_a:
        result = run(tmp_path, world, ("ledger", url_a))
    assert result.exit_code == 2 and "monitor state" in result.output


def test_a_node_serving_another_tree_than_the_witness_cosigned_is_a_fork(tmp_path, world):
    """A split view: the witness cosigned the honest tree; a node later serves another tree of
    the same size, signed by the same voters. The evidence is the witness's cosigned checkpoint
    and the node's."""
    honest = node(world, [(i, 1) for i in range(1, 4)])
    split = node(world, [(i + 10, 1) for i in range(3)])
    witness = Witness("central.example/w", generate_seed(), [WitnessedLog(
        origin=honest.checkpoints.origin, keys=tuple(genesis_keys(honest)), signatures=2)], MemoryStore())
    with serve(WitnessNode(witness, world.genesis)) as url_w:
        with serve(honest) as url_a:
            push(CheckpointPusher(honest.checkpoints, [WitnessTarget(url=url_w, keys=(witness.key,))], interval=1))
        with serve(split) as url_b:
            result = run(tmp_path, world, ("witness", url_w), ("ledger", url_b))
    assert result.exit_code == 1, result.output
    evidence = json.loads(result.stdout)
    assert "same tree size" in evidence["reason"]
    by_source = {c["source"]: c["checkpoint"] for c in evidence["checkpoints"]}
    assert set(by_source) == {url_w, url_b}
    cosigned = verify_checkpoint(by_source[url_w], genesis_keys(honest), witnesses=[witness.key])
    served = verify_checkpoint(by_source[url_b], genesis_keys(honest))
    assert cosigned.checkpoint.size == served.checkpoint.size
    assert (cosigned.checkpoint.root_hash, served.checkpoint.root_hash) == (
        honest.ledger.head().log_root, split.ledger.head().log_root)
