"""The tlog-witness endpoint (c2sp.org/tlog-witness) over HTTP: the status
codes the spec gives, in its order of checks, with transparency-dev/witness's
own vectors (the log "monkeys", its checkpoints at sizes 5 and 8 and the
proof joining them); a refused request changes nothing the witness stores;
the state survives a restart and racing requests never roll it back; a disk
that refuses the new state gets a 503 and leaves the state as it was."""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import subprocess
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from ledger.checkpoint import Checkpoint
from ledger.keys import public_key
from ledger.merkle import EMPTY_ROOT
from ledger.signed_note import SIG_COSIGNATURE_V1, Note, NoteSignature, VerifierKey, open_note, sign_note
from ledger.store import LevelDBStore, MemoryStore
from node.api import create_app
from node.config import WitnessedLog
from node.witness import Witness, origin_hash, parse_add_checkpoint
from tests.ledger.test_checkpoint import MONKEYS_5, MONKEYS_8, MONKEYS_PROOF_5_8, MONKEYS_VKEY
from tests.ledger.test_signed_note import WITNESS_SKEY, seed_of
from tests.node.service_double import ServiceDouble
from tests.node.witness_double import WitnessNode

MONKEYS_SEED = seed_of("PRIVATE+KEY+monkeys+db4d9f7e+ATWIAF3yVBG+Hv1rZFQoNt/BaURkLPtOFMAM2HrEeIr6")
WITNESS_NAME = "witness.example/w1"
NOW = 1_750_000_000


# c2sp.org/tlog-witness, "add-checkpoint": the example request body, verbatim
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeM"
    "cTOAYQ8=\n"
    "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++"
    "qbSzm9Q=\n").encode()
# ... and the example response body
SPEC_RESPONSE = (
    "— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh"
    "6Up69HVOw==\n"
    "— witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1v"
    "i/lCAsmlw==\n"
    "— witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvp"
    "ysAdyP3wQ==\n")


def make_witness(store=None, *, signatures: int = 1, extra_keys=()) -> Witness:
    keys = (VerifierKey.from_text(MONKEYS_VKEY), *extra_keys)
    return Witness(WITNESS_NAME, seed_of(WITNESS_SKEY), [WitnessedLog(origin="monkeys", keys=keys,
                                                                       signatures=signatures)],
                   store if store is not None else MemoryStore(), clock=lambda: NOW)


@pytest.fixture()
def world_genesis():
    from tests.ledger.ledger_builder import sample_world
    return sample_world().genesis


@pytest.fixture()
def witness():
    return make_witness()


@pytest.fixture()
def http(witness, world_genesis):
    return TestClient(create_app(WitnessNode(witness, world_genesis)), raise_server_exceptions=False)


def body(old: int, proof: list[bytes], checkpoint: str) -> bytes:
    return (f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + checkpoint).encode()


def post(http, data: bytes):
    return http.post("/add-checkpoint", content=data)


def signed(size: int, root: bytes, seed: bytes = MONKEYS_SEED, name: str = "monkeys") -> str:
    text = Checkpoint(origin="monkeys", size=size, root_hash=root).text
    return Note(text=text, signatures=(sign_note(text, name, seed),)).to_bytes().decode()


def cosigner() -> VerifierKey:
    return VerifierKey.of(WITNESS_NAME, public_key(seed_of(WITNESS_SKEY)), SIG_COSIGNATURE_V1)


def stored(witness: Witness) -> dict:
    return dict(witness.store._data)


# -- the happy path ----------------------------------------------------------------------------


def test_first_checkpoint_then_a_consistent_one_are_cosigned(http, witness):
    r = post(http, body(0, [], MONKEYS_5))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines(keepends=True)
    assert len(lines) == 1 and lines[0].startswith(f"— {WITNESS_NAME} ")
    # the client's check per the spec: concatenate with the checkpoint and open it with the witness key
    opened = open_note(MONKEYS_5 + r.text, [cosigner()])
    assert opened.verified[0][0] == cosigner()
    sig = NoteSignature.from_line(lines[0].rstrip("\n"))
    assert int.from_bytes(sig.signature[:8], "big") == NOW
    text = MONKEYS_5.split("\n\n")[0] + "\n"
    Ed25519PublicKey.from_public_bytes(public_key(seed_of(WITNESS_SKEY))).verify(
        sig.signature[8:], f"cosignature/v1\ntime {NOW}\n{text}".encode())

    r = post(http, body(5, MONKEYS_PROOF_5_8, MONKEYS_8))
    assert r.status_code == 200, r.text
    assert witness.state("monkeys")[0] == 8


def test_the_same_checkpoint_again_is_cosigned_afresh(http):
    assert post(http, body(0, [], MONKEYS_5)).status_code == 200
    assert post(http, body(5, [], MONKEYS_5)).status_code == 200


def test_monitoring_route_serves_the_cosigned_checkpoint(http):
    path = f"/{origin_hash('monkeys')}/checkpoint"
    assert hashlib.sha256(b"monkeys").hexdigest() in path
    assert http.get(path).status_code == 404
    assert post(http, body(0, [], MONKEYS_5)).status_code == 200
    r = http.get(path)
    assert r.status_code == 200
    opened = open_note(r.text, [VerifierKey.from_text(MONKEYS_VKEY), cosigner()])
    assert {k.name for k, _ in opened.verified} == {"monkeys", WITNESS_NAME}
    assert r.text.startswith(MONKEYS_5.split("\n\n")[0] + "\n\n")
    assert http.get(f"/{'0' * 64}/checkpoint").status_code == 404
    bad = http.get("/ABC/checkpoint")
    assert bad.status_code == 400 and bad.json()["field"] == "origin_hash"


# -- refusals: the spec's status codes ----------------------------------------------------------------


def refused(http, witness, data: bytes, status: int, field: str | None = None):
    before = stored(witness)
    r = post(http, data)
    assert r.status_code == status, r.text
    assert stored(witness) == before, "a refused request changed the witness's state"
    if field is not None:
        assert r.json()["field"] == field, r.json()
    return r


def test_stale_old_size_is_409_with_the_known_size(http, witness):
    assert post(http, body(0, [], MONKEYS_5)).status_code == 200
    r = refused(http, witness, body(0, [], MONKEYS_8), 409)
    assert r.text == "5\n" and r.headers["content-type"] == "text/x.tlog.size"
    assert post(http, body(5, MONKEYS_PROOF_5_8, MONKEYS_8)).status_code == 200
    r = refused(http, witness, body(5, [], MONKEYS_5), 409)  # a rollback to size 5
    assert r.text == "8\n"


def test_a_fresh_witness_answers_409_zero_to_a_nonzero_old_size(http, witness):
    r = refused(http, witness, body(5, MONKEYS_PROOF_5_8, MONKEYS_8), 409)
    assert r.text == "0\n"


def test_old_size_above_the_checkpoint_is_400(http, witness):
    assert post(http, body(0, [], MONKEYS_5)).status_code == 200
    refused(http, witness, body(8, [], MONKEYS_5), 400, "old")


def test_unknown_origin_is_404(http, witness):
    other = Checkpoint(origin="bananas", size=1, root_hash=bytes(32)).text
    note = Note(text=other, signatures=(sign_note(other, "bananas", MONKEYS_SEED),)).to_bytes().decode()
    refused(http, witness, body(0, [], note), 404, "checkpoint.origin")


def test_no_trusted_signature_is_403(http, witness):
    refused(http, witness, body(0, [], signed(5, bytes(32), seed=bytes([1]) * 32)), 403, "checkpoint.signatures")


def test_a_trusted_keys_bad_signature_is_403_naming_its_line(http, witness):
    bad = MONKEYS_5.replace("202fftzGl3", "202fftzGl4")
    r = refused(http, witness, body(0, [], bad), 403, "checkpoint.signatures[0]")
    assert "monkeys+db4d9f7e" in r.json()["message"]


def test_fewer_signatures_than_required_is_403(world_genesis):
    second = VerifierKey.of("monkeys", public_key(bytes([2]) * 32))
    witness = make_witness(signatures=2, extra_keys=(second,))
    http = TestClient(create_app(WitnessNode(witness, world_genesis)), raise_server_exceptions=False)
    r = refused(http, witness, body(0, [], MONKEYS_5), 403, "checkpoint.signatures")
    assert "requires 2" in r.json()["message"]
    note = Note.parse(MONKEYS_5)
    both = Note(text=note.text, signatures=(*note.signatures, sign_note(note.text, "monkeys", bytes([2]) * 32)))
    assert post(http, body(0, [], both.to_bytes().decode())).status_code == 200


def test_inconsistent_checkpoint_is_422_and_a_fork_at_the_same_size_too(http, witness):
    assert post(http, body(0, [], MONKEYS_5)).status_code == 200
    bad_proof = [bytes(32)] + MONKEYS_PROOF_5_8[1:]
    refused(http, witness, body(5, bad_proof, MONKEYS_8), 422, "proof")
    refused(http, witness, body(5, MONKEYS_PROOF_5_8[:-1], MONKEYS_8), 422, "proof")
    refused(http, witness, body(5, [], signed(5, bytes(32))), 422, "proof")  # same size, another root
    refused(http, witness, body(5, MONKEYS_PROOF_5_8, signed(8, bytes(32))), 422, "proof")  # another tree at 8


def test_size_zero_must_be_the_empty_tree_and_old_zero_takes_no_proof(http, witness):
    refused(http, witness, body(0, [], signed(0, bytes(32))), 422, "checkpoint.root_hash")
    refused(http, witness, body(0, MONKEYS_PROOF_5_8[:1], MONKEYS_5), 422, "proof")
    assert post(http, body(0, [], signed(0, EMPTY_ROOT))).status_code == 200
    assert witness.state("monkeys") == (0, EMPTY_ROOT)
    assert post(http, body(0, [], MONKEYS_5)).status_code == 200


@pytest.mark.parametrize("data, field", [
    (b"", "old"),
    (b"old 5", "old"),
    (b"old 05\n\n" + MONKEYS_5.encode(), "old"),
    (b"old -1\n\n" + MONKEYS_5.encode(), "old"),
    (b"new 0\n\n" + MONKEYS_5.encode(), "old"),
    (b"old 0\nnot base64!\n\n" + MONKEYS_5.encode(), "proof[0]"),
    (b"old 0\n" + base64.b64encode(bytes(31)) + b"\n\n" + MONKEYS_5.encode(), "proof[0]"),
    (b"old 0\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\n" + MONKEYS_5.encode(), "proof"),
    (b"old 0\n" + base64.b64encode(bytes(32)) + b"\n", "proof"),
    (b"old 0\n\nmonkeys\n5\n", "checkpoint"),
    (b"old 0\n\nmonkeys\nfive\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n\n" + MONKEYS_5.split("\n\n")[1].encode(),
     "checkpoint.size"),
    (b"old 0\n\n\xff" + MONKEYS_5.encode(), "checkpoint"),
])
def test_malformed_bodies_are_400_naming_the_part(http, witness, data, field):
    refused(http, witness, data, 400, field)


def test_a_body_over_the_limit_is_413(http, witness):
    refused(http, witness, b"old 0\n\n" + b"x" * (64 << 10), 413)


def test_a_node_that_is_no_witness_answers_404(world_genesis):
    http = TestClient(create_app(ServiceDouble(world_genesis, {})), raise_server_exceptions=False)
    assert post(http, body(0, [], MONKEYS_5)).status_code == 404
    assert http.get(f"/{origin_hash('monkeys')}/checkpoint").status_code == 404


# -- the spec's own examples -------------------------------------------------------------------------


def test_the_specs_example_request_parses_to_its_parts():
    old, proof, checkpoint = parse_add_checkpoint(SPEC_REQUEST)
    assert old == 20852014
    assert [base64.b64encode(h).decode() for h in proof] == [
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=", "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=", "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0="]
    assert checkpoint == SPEC_REQUEST[SPEC_REQUEST.index(b"example.com/"):]
    note = Note.parse(checkpoint)
    assert Checkpoint.from_text(note.text) == Checkpoint(
        origin="example.com/behind-the-sofa", size=20852163,
        root_hash=base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="))
    assert [s.name for s in note.signatures] == ["example.com/behind-the-sofa"] * 2


def test_the_specs_example_request_is_404_for_an_unknown_origin_and_403_without_a_trusted_key(http, witness,
                                                                                               world_genesis):
    refused(http, witness, SPEC_REQUEST, 404, "checkpoint.origin")
    # witnessing that origin under a key that signed neither line: both lines are ignored, none is trusted
    stranger = Witness(WITNESS_NAME, seed_of(WITNESS_SKEY), [WitnessedLog(
        origin="example.com/behind-the-sofa", keys=(VerifierKey.of("example.com/behind-the-sofa", bytes(32)),),
        signatures=1)], MemoryStore(), clock=lambda: NOW)
    other = TestClient(create_app(WitnessNode(stranger, world_genesis)), raise_server_exceptions=False)
    r = refused(other, stranger, SPEC_REQUEST, 403, "checkpoint.signatures")
    assert "no signature from a trusted key" in r.json()["message"]


def test_a_response_like_the_specs_keeps_only_the_configured_witness_line(world_genesis):
    """The example response's three lines come from keys this ledger does not trust (two of them
    under this witness's very name, with other key IDs); a witness answering them beside its own
    line has exactly its own line kept and served."""
    from ledger.checkpoint import verify_checkpoint
    from node.checkpoint_pusher import CheckpointPusher
    from node.config import WitnessTarget
    from tests.node.service_double import serve
    from tests.node.test_checkpoints_api import lower, push

    class Chatty(Witness):
        def add_checkpoint(self, body: bytes) -> bytes:
            return SPEC_RESPONSE.encode() + super().add_checkpoint(body)

    from tests.ledger.ledger_builder import sample_world
    world = sample_world()
    service = lower(world)
    origin = service.checkpoints.origin
    keys = tuple(service.checkpoints.voter_keys(1).values())
    chatty = Chatty(WITNESS_NAME, seed_of(WITNESS_SKEY), [WitnessedLog(origin=origin, keys=keys, signatures=2)],
                    MemoryStore(), clock=lambda: NOW)
    with serve(WitnessNode(chatty, world.genesis)) as url:
        push(CheckpointPusher(service.checkpoints, [WitnessTarget(url=url, keys=(chatty.key,))], interval=1))
    size = service.ledger.head().log_size
    kept = service.checkpoints.cosignatures(size)
    assert [(s.name, s.key_id) for s in kept] == [(WITNESS_NAME, chatty.key.key_id)]
    note = service.checkpoints.note(service.checkpoints.latest_signed()).decode()
    assert note.endswith(kept[0].line) and note.count("— witness.example/") == 1
    assert verify_checkpoint(note, keys, witnesses=[chatty.key]).cosigners == (chatty.key,)


# -- durability and atomicity ------------------------------------------------------------------------


def test_the_state_survives_a_restart(tmp_path):
    store = LevelDBStore(str(tmp_path / "witness"))
    witness = make_witness(store)
    witness.add_checkpoint(body(0, [], MONKEYS_5))
    store.close()
    store = LevelDBStore(str(tmp_path / "witness"))
    try:
        again = make_witness(store)
        assert again.state("monkeys")[0] == 5
        from node.errors import WitnessConflict
        with pytest.raises(WitnessConflict) as info:
            again.add_checkpoint(body(0, [], MONKEYS_5))
        assert info.value.known_size == 5
        again.add_checkpoint(body(5, MONKEYS_PROOF_5_8, MONKEYS_8))
    finally:
        store.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_disk_that_refuses_the_new_state_is_a_503_and_the_state_stays(tmp_path, world_genesis, caplog):
    """The witness's LevelDB on a small tmpfs, filled: the add-checkpoint whose state write meets
    the full disk is answered 503 ``unavailable`` with Retry-After (no cosignature, no trace), the
    witness tells its node (``on_write_error``: the runtime stops), and what it stores is the last
    checkpoint it did cosign, then and after a restart, where the same request is cosigned."""
    from ledger.merkle_log import MerkleLog
    from ledger.store import Overlay
    from tests.disk import fill

    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], check=True)
    store = None
    try:
        store = LevelDBStore(str(disk / "witness"))
        errors: list[OSError] = []
        witness = make_witness(store)
        witness.on_write_error = errors.append
        http = TestClient(create_app(WitnessNode(witness, world_genesis)), raise_server_exceptions=False)
        tree = MerkleLog(Overlay(MemoryStore()))

        def grown(old: int) -> bytes:
            tree.append([f"leaf {tree.size}".encode()])
            proof = tree.consistency_proof(old, tree.size) if old else []
            return body(old, proof, signed(tree.size, tree.root()))

        assert post(http, grown(0)).status_code == 200
        last = (tree.size, tree.root())
        fill(disk / "ballast")
        for _ in range(200):  # until a write meets the full disk (the first may still fit a page)
            request = grown(last[0])
            r = post(http, request)
            if r.status_code != 200:
                break
            last = (tree.size, tree.root())
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "unavailable" and int(r.headers["retry-after"]) >= 1
        assert "\n" not in r.json()["message"] and "— " not in r.text
        assert witness.state("monkeys") == last
        assert [e.errno for e in errors] == [errno.ENOSPC]
        assert not [rec for rec in caplog.records if rec.exc_info], "a traceback was logged"

        (disk / "ballast").unlink()
        store.close()
        store = LevelDBStore(str(disk / "witness"))  # the node restarted, with room again
        again = make_witness(store)
        assert again.state("monkeys") == last
        http = TestClient(create_app(WitnessNode(again, world_genesis)), raise_server_exceptions=False)
        assert post(http, request).status_code == 200
        assert again.state("monkeys") == (tree.size, tree.root())
    finally:
        if store is not None:
            store.close()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_racing_requests_never_roll_the_state_back():
    """The spec's race: A (size 8) and B (size 5, same old size) checked together must
    not leave 5 stored after 8 was cosigned."""
    from node.errors import WitnessRefused

    for _ in range(20):
        witness = make_witness()
        witness.add_checkpoint(body(0, [], MONKEYS_5))
        barrier = threading.Barrier(2)
        outcomes = {}

        def run(name: str, data: bytes) -> None:
            barrier.wait()
            try:
                witness.add_checkpoint(data)
                outcomes[name] = 200
            except WitnessRefused as exc:
                outcomes[name] = exc.http_status

        threads = [threading.Thread(target=run, args=("A", body(5, MONKEYS_PROOF_5_8, MONKEYS_8))),
                   threading.Thread(target=run, args=("B", body(5, [], MONKEYS_5)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes["A"] == 200 and outcomes["B"] in (200, 409)
        assert witness.state("monkeys")[0] == 8


# -- any damaged request -----------------------------------------------------------------------------


@given(data=st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_damaged_request_gets_a_4xx_and_changes_nothing(http, witness, data):
    """Any byte of a valid request (the second checkpoint, after the first) overwritten, dropped
    or doubled: the answer is 200 or a 4xx with a JSON error naming the field (409 aside), and the
    stored state changes only on a 200, which can only cosign the one consistent checkpoint."""
    if witness.state("monkeys") is None:
        assert post(http, body(0, [], MONKEYS_5)).status_code == 200
    valid = body(5, MONKEYS_PROOF_5_8, MONKEYS_8)
    i = data.draw(st.integers(0, len(valid) - 1))
    how = data.draw(st.sampled_from(["replace", "drop", "double"]))
    if how == "replace":
        damaged = valid[:i] + bytes([data.draw(st.integers(0, 255))]) + valid[i + 1:]
    elif how == "drop":
        damaged = valid[:i] + valid[i + 1:]
    else:
        damaged = valid[:i + 1] + valid[i:]
    before = stored(witness)
    r = post(http, damaged)
    assert r.status_code == 200 or 400 <= r.status_code < 500, r.text
    if r.status_code == 200:
        assert witness.state("monkeys") == (8, Checkpoint.from_text(Note.parse(MONKEYS_8).text).root_hash)
        witness.store._data.clear()  # next example: start again from nothing
        witness.store._keys.clear()
        return
    assert stored(witness) == before
    if r.status_code == 409:
        assert r.headers["content-type"] == "text/x.tlog.size" and r.text == "5\n"
    else:
        assert r.json()["field"], r.text
