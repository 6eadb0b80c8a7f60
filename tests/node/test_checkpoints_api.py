"""Checkpoint routes (node/routes/checkpoints.py) and a lower ledger pushing its
checkpoints to a witness over HTTP (node/checkpoint_pusher.py): the witness
cosigns, the ledger keeps the cosignature and serves it beside the voters'
lines; a restarted pusher learns the witness's size from the 409; a fork is
refused and nothing is kept; a cosignature its own disk refuses stops the
pusher (and so the node) rather than pass for an unreachable witness."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from ledger.checkpoint import CheckpointLog, verify_checkpoint
from ledger.keys import generate_seed
from ledger.signed_note import VerifierKey
from node.api import create_app
from node.checkpoint_pusher import CheckpointPusher
from node.config import WitnessedLog, WitnessTarget
from node.witness import Witness
from ledger.store import MemoryStore, StoreWriteError
from tests.ledger.ledger_builder import NODE_SEEDS, sample_world
from tests.node.service_double import FullDisk, ServiceDouble, serve
from tests.node.witness_double import WitnessNode


@pytest.fixture()
def world():
    return sample_world()


def lower(world, docs: int = 3) -> ServiceDouble:
    service = ServiceDouble(world.genesis, {n: NODE_SEEDS[n] for n in ("n1", "n2", "n3")})
    service.apply(world.envelopes)
    for i in range(1, docs + 1):  # (the world holds minutes 0 and resolution 0 already)
        service.apply([world.make_doc(i, 1)])
    return service


def test_routes_serve_the_latest_signed_checkpoint_and_the_voters_keys(world):
    service = ServiceDouble(world.genesis, {n: NODE_SEEDS[n] for n in ("n1", "n2", "n3")})
    http = TestClient(create_app(service), raise_server_exceptions=False)
    none = http.get("/checkpoint")
    assert none.status_code == 404 and none.json()["error"] == "not_found"
    service.apply(world.envelopes)
    service.apply([world.make_doc(1, 1)])
    keys = http.get("/v1/verifier-keys").json()
    assert keys["origin"] == service.checkpoints.origin and keys["height"] == 3
    assert keys["signatures_required"] == 2 and [k["node_id"] for k in keys["keys"]] == ["n1", "n2", "n3"]
    vkeys = [VerifierKey.from_text(k["vkey"]) for k in keys["keys"]]
    r = http.get("/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
    verified = verify_checkpoint(r.text, vkeys, origin=keys["origin"])
    assert verified.checkpoint.size == service.ledger.header(2).log_size and len(verified.signers) == 3
    assert http.get("/v1/checkpoints/2").text == r.text
    assert verify_checkpoint(http.get("/v1/checkpoints/1").text, vkeys).checkpoint.size == len(world.envelopes)
    assert http.get("/v1/checkpoints/3").status_code == 404
    assert http.get("/v1/checkpoints/0").json()["field"] == "height"
    assert http.get("/v1/checkpoints/x").status_code == 400
    assert http.get("/v1/verifier-keys?height=9").status_code == 404
    assert http.get("/v1/verifier-keys?height=1").json()["height"] == 1


def test_an_unsigned_head_serves_the_latest_signed_one(world):
    service = lower(world, docs=1)
    before = service.checkpoints.note(service.ledger.height)
    service.node_seeds = {"n1": NODE_SEEDS["n1"]}  # the next block gets one signature of three
    service.apply([world.make_doc(5, 1)])
    http = TestClient(create_app(service), raise_server_exceptions=False)
    assert http.get("/checkpoint").content == before
    assert http.get(f"/v1/checkpoints/{service.ledger.height}").status_code == 404


# -- pushing to a witness ---------------------------------------------------------------------------------


@pytest.fixture()
def witnessed(world):
    """A lower ledger served over HTTP and a witness node configured for it."""
    service = lower(world)
    keys = tuple(CheckpointLog(service.ledger).voter_keys(1).values())
    seed = generate_seed()
    witness = Witness("central.example/witness/w1", seed,
                      [WitnessedLog(origin=service.checkpoints.origin, keys=keys, signatures=2)], MemoryStore())
    with serve(WitnessNode(witness, world.genesis)) as url:
        yield service, witness, url


def push(pusher: CheckpointPusher) -> None:
    async def once() -> None:
        try:
            await pusher.push_once()
        finally:
            await pusher.aclose()
    asyncio.run(once())


def test_a_pushed_checkpoint_is_cosigned_kept_and_served(witnessed, world):
    service, witness, url = witnessed
    pusher = CheckpointPusher(service.checkpoints, [WitnessTarget(url=url, keys=(witness.key,))], interval=1)
    push(pusher)
    view = pusher.witnesses[0]
    size = service.ledger.head().log_size
    assert (view.known_size, view.cosigned_size, view.last_error) == (size, size, None)
    assert witness.state(service.checkpoints.origin)[0] == size
    http = TestClient(create_app(service), raise_server_exceptions=False)
    note = http.get("/checkpoint").text
    keys = [VerifierKey.from_text(k["vkey"]) for k in http.get("/v1/verifier-keys").json()["keys"]]
    assert verify_checkpoint(note, keys, witnesses=[witness.key]).cosigners == (witness.key,)

    # more documents: the next push carries a consistency proof from the witnessed size
    for i in range(3, 8):
        service.apply([world.make_doc(i, 2)])
    push(pusher)
    assert witness.state(service.checkpoints.origin)[0] == service.ledger.head().log_size > size
    # a restarted pusher starts at 0, is told the witness's size by a 409, and carries on
    service.apply([world.make_doc(9, 1)])
    fresh = CheckpointPusher(service.checkpoints, [WitnessTarget(url=url, keys=(witness.key,))], interval=1)
    push(fresh)
    assert fresh.witnesses[0].cosigned_size == service.ledger.head().log_size
    assert witness.state(service.checkpoints.origin)[0] == service.ledger.head().log_size


def test_a_forked_ledger_is_refused_and_keeps_no_cosignature(witnessed, world):
    service, witness, url = witnessed
    push(CheckpointPusher(service.checkpoints, [WitnessTarget(url=url, keys=(witness.key,))], interval=1))
    state = witness.state(service.checkpoints.origin)
    # the same genesis and voters, other documents: another tree under the same origin
    fork = ServiceDouble(world.genesis, {n: NODE_SEEDS[n] for n in ("n1", "n2", "n3")})
    fork.apply(world.envelopes)
    for i in range(20, 30):
        fork.apply([world.make_doc(i, 1)])
    assert fork.checkpoints.origin == service.checkpoints.origin
    pusher = CheckpointPusher(fork.checkpoints, [WitnessTarget(url=url, keys=(witness.key,))], interval=1)
    push(pusher)
    view = pusher.witnesses[0]
    assert view.last_error.startswith("HTTP 422") and view.cosigned_size == -1
    assert witness.state(fork.checkpoints.origin) == state
    push(pusher)  # at once again: it backs off rather than hammer the witness
    assert view.failures == 1
    assert fork.checkpoints.cosignatures(fork.ledger.head().log_size) == []


def test_a_cosignature_the_disk_refuses_stops_the_pusher(world):
    service = ServiceDouble(world.genesis, {n: NODE_SEEDS[n] for n in ("n1", "n2", "n3")}, store=FullDisk())
    service.apply(world.envelopes)
    keys = tuple(service.checkpoints.voter_keys(1).values())
    witness = Witness("central.example/witness/w1", generate_seed(),
                      [WitnessedLog(origin=service.checkpoints.origin, keys=keys, signatures=2)], MemoryStore())
    with serve(WitnessNode(witness, world.genesis)) as url:
        pusher = CheckpointPusher(service.checkpoints, [WitnessTarget(url=url, keys=(witness.key,))], interval=1)
        service.ledger.store.full = True
        with pytest.raises(StoreWriteError):
            push(pusher)
    service.ledger.store.full = False
    assert service.checkpoints.cosignatures(service.ledger.head().log_size) == []
    assert pusher.witnesses[0].failures == 0  # not taken for a witness that failed


def test_a_cosignature_from_an_unconfigured_key_is_not_kept(witnessed):
    service, witness, url = witnessed
    other = VerifierKey.of(witness.key.name, VerifierKey.of("x", bytes(32)).public_key, witness.key.key_type)
    pusher = CheckpointPusher(service.checkpoints, [WitnessTarget(url=url, keys=(other,))], interval=1)
    push(pusher)
    assert pusher.witnesses[0].last_error.startswith("200 without")
    assert service.checkpoints.cosignatures(service.ledger.head().log_size) == []


def test_the_anchor_route_names_what_is_wrong(world):
    service = lower(world, docs=0)
    http = TestClient(create_app(service), raise_server_exceptions=False)
    missing = http.get("/v1/anchors")
    assert missing.status_code == 400 and missing.json()["field"] == "origin"
    unknown = http.get("/v1/anchors", params={"origin": "minutebook/nowhere/00"})
    assert unknown.status_code == 404 and "minutebook/nowhere/00" in unknown.json()["message"]


@pytest.mark.parametrize("path, field", [
    ("/v1/checkpoints/0", "height"),
    ("/v1/checkpoints/-3", "height"),
    ("/v1/checkpoints/two", "height"),
    ("/v1/checkpoints/1.5", "height"),
    ("/v1/verifier-keys?height=0", "height"),
    ("/v1/verifier-keys?height=abc", "height"),
    ("/v1/anchors", "origin"),
    ("/v1/anchors?origin=", "origin"),
    ("/ABCDEF/checkpoint", "origin_hash"),
    (f"/{'A' * 64}/checkpoint", "origin_hash"),  # the spec's origin hash is lowercase hex
])
def test_bad_input_to_a_checkpoint_route_is_400_naming_the_field(world, path, field):
    http = TestClient(create_app(lower(world, docs=1)), raise_server_exceptions=False)
    r = http.get(path)
    assert r.status_code == 400 and r.json()["field"] == field, r.text


@pytest.mark.parametrize("path", ["/v1/checkpoints/18446744073709551616", f"/v1/checkpoints/{'9' * 40}",
                                  f"/v1/verifier-keys?height={2 ** 70}", f"/{'0' * 64}/checkpoint"])
def test_heights_and_origins_beyond_what_exists_are_404(world, path):
    http = TestClient(create_app(lower(world, docs=1)), raise_server_exceptions=False)
    r = http.get(path)
    assert r.status_code == 404 and r.json()["error"] == "not_found", r.text
