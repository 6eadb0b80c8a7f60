"""The anchor document type (ledger/anchors.py): its body checks name the
field; the registry takes one per lower ledger per interval, signed by an
officer of the root unit, each extending the last by its consistency proof."""

from __future__ import annotations

import pytest

from ledger.errors import InvalidInput, NotPermitted, Rejected
from ledger.ledger import Ledger
from ledger.merkle_log import MerkleLog
from ledger.store import MemoryStore, Overlay
from tests.ledger.factory import T0, make_org, witnessed_checkpoint
from tests.ledger.ledger_builder import drive

ORIGIN = "minutebook/p1/0011223344556677"
HOUR = 3_600_000


class LowerLog:
    """A lower ledger's Merkle tree, for checkpoints and the proofs between them."""

    def __init__(self) -> None:
        self.log = MerkleLog(Overlay(MemoryStore()))

    def grow(self, n: int) -> "LowerLog":
        start = self.log.size
        self.log.append([f"leaf {i}".encode() for i in range(start, start + n)])
        return self

    def body(self, **kwargs) -> dict:
        return witnessed_checkpoint(ORIGIN, self.log.size, self.log.root(), **kwargs)

    def proof(self, m: int) -> list[bytes]:
        return self.log.consistency_proof(m, self.log.size)


@pytest.fixture()
def org():
    return make_org(3)


def apply(ledger: Ledger, envelope, at: int):
    """Apply one block holding `envelope` at block time T0 + `at` (the factory signs documents
    created at T0 + a few ms, and a block may not hold a document created more than
    MAX_CLOCK_SKEW_MS after its timestamp); its status."""
    return drive(ledger, [envelope.to_bytes()], timestamp=T0 + at).documents[0]


# -- the body ---------------------------------------------------------------------------------


def test_a_witnessed_checkpoint_is_a_valid_anchor_body(org):
    env = org.anchor(**LowerLog().grow(5).body())
    assert env.doc.type == "anchor" and env.doc.body["origin"] == ORIGIN


@pytest.mark.parametrize("change, field", [
    (lambda b: b.update(origin="minutebook/other/0011223344556677"), "body.keys[0]"),
    (lambda b: b.update(keys=[]), "body.keys"),
    (lambda b: b.update(keys=b["keys"] + b["keys"][:1]), "body.keys[3]"),
    (lambda b: b.update(keys=["nonsense"]), "body.keys[0]"),
    (lambda b: b.update(keys=b["witnesses"]), "body.keys[0]"),
    (lambda b: b.update(witnesses=[]), "body.witnesses"),
    (lambda b: b.update(witnesses=b["keys"][:1]), "body.witnesses[0]"),
    (lambda b: b.update(checkpoint=b["checkpoint"].replace("\n5\n", "\n6\n")), "body.checkpoint"),
    (lambda b: b.update(checkpoint="not a note"), "body.checkpoint"),
])
def test_a_bad_body_names_the_field(org, change, field):
    body = dict(LowerLog().grow(5).body(), origin=ORIGIN)
    change(body)
    with pytest.raises(InvalidInput) as info:
        org.anchor(**body)
    assert info.value.field == field, info.value


def test_a_checkpoint_signed_by_a_minority_or_not_cosigned_is_refused(org):
    log = LowerLog().grow(5)
    with pytest.raises(InvalidInput, match="1 of 3 log keys signed"):
        org.anchor(**log.body(signed_by=1))
    other = log.body(witness_seed=bytes(32))
    body = log.body()
    body["checkpoint"] = other["checkpoint"]  # cosigned by another witness than the one listed
    with pytest.raises(InvalidInput, match="no cosignature from witness"):
        org.anchor(**body)


# -- the registry ----------------------------------------------------------------------------


def test_only_an_officer_of_the_root_anchors_and_only_in_the_root(org):
    ledger = Ledger(MemoryStore(), org.genesis)
    body = LowerLog().grow(5).body()
    cell = "central/p1/k1/s1"
    assert apply(ledger, org.anchor(**body, signers=[org.secretary("central/p1")]), 10).reason.startswith(
        "not_permitted")
    assert apply(ledger, org.anchor(**body, signers=[org.secretary(cell)]), 11).reason.startswith("not_permitted")
    # an envelope for another unit than the root
    wrong = org.envelope("anchor", "central/p1", dict(org.anchor(**body).doc.body), [org.inspector("central")])
    assert "anchors belong to the root unit" in apply(ledger, wrong, 12).reason
    for officer in (org.inspector("central"), org.secretary("central"), org.deputy("central")):
        fresh = Ledger(MemoryStore(), org.genesis)
        assert apply(fresh, org.anchor(**body, signers=[officer]), 20).status == "accepted"
        assert _state(fresh)["size"] == 5


def _state(ledger: Ledger) -> dict:
    from ledger.registry import Registry
    return Registry(ledger.store).anchor(ORIGIN)


def test_anchors_of_one_origin_are_an_append_only_history_at_most_one_per_interval(org):
    ledger = Ledger(MemoryStore(), org.genesis)
    log = LowerLog().grow(5)
    first = org.anchor(**log.body())
    assert apply(ledger, first, HOUR).status == "accepted"
    assert _state(ledger) == {"at_ms": T0 + HOUR, "doc_id": first.doc_id, "root": log.log.root(5), "size": 5}

    log.grow(4)
    too_soon = apply(ledger, org.anchor(**log.body(), proof=log.proof(5)), 2 * HOUR - 1)
    assert too_soon.status == "rejected" and "at most one anchor per 3600000 ms" in too_soon.reason
    assert apply(ledger, org.anchor(**log.body(), proof=[]), 2 * HOUR).reason.startswith(
        "rejected: body.proof: the checkpoint does not extend")
    bad = log.proof(5)
    bad[0] = bytes(32)
    assert "does not extend" in apply(ledger, org.anchor(**log.body(), proof=bad), 2 * HOUR).reason
    assert apply(ledger, org.anchor(**log.body(), proof=log.proof(5)), 2 * HOUR).status == "accepted"
    assert _state(ledger)["size"] == 9

    # the same tree again, a later hour: accepted without a proof; with one, not
    assert apply(ledger, org.anchor(**log.body(), proof=log.proof(5)), 3 * HOUR).status == "rejected"
    assert apply(ledger, org.anchor(**log.body()), 3 * HOUR).status == "accepted"

    # a smaller tree, or another tree of the same size (a fork of the lower ledger), never
    smaller = LowerLog().grow(7)
    assert "smaller than the 9" in apply(ledger, org.anchor(**smaller.body()), 4 * HOUR).reason
    fork = LowerLog().grow(5)
    fork.log.append([b"forged"] * 4)
    assert "does not extend" in apply(ledger, org.anchor(**fork.body(), proof=fork.proof(5)), 4 * HOUR).reason
    assert _state(ledger)["size"] == 9


def test_the_first_anchor_carries_no_proof(org):
    ledger = Ledger(MemoryStore(), org.genesis)
    log = LowerLog().grow(3)
    reason = apply(ledger, org.anchor(**log.body(), proof=[bytes(32)]), HOUR).reason
    assert "first anchor of an origin carries no consistency proof" in reason


def test_the_interval_is_a_genesis_field(org):
    genesis = dict(org.genesis, anchor_interval_ms=1000)
    ledger = Ledger(MemoryStore(), genesis)
    log = LowerLog().grow(3)
    assert apply(ledger, org.anchor(**log.body()), 5000).status == "accepted"
    log.grow(1)
    assert apply(ledger, org.anchor(**log.body(), proof=log.proof(3)), 6000).status == "accepted"
    with pytest.raises(InvalidInput) as info:
        Ledger(MemoryStore(), dict(org.genesis, anchor_interval_ms=-1))
    assert info.value.field == "anchor_interval_ms"


def test_admission_refuses_what_apply_would_reject(org):
    ledger = Ledger(MemoryStore(), org.genesis)
    body = LowerLog().grow(3).body()
    with pytest.raises(NotPermitted):
        ledger.check_submission(org.anchor(**body, signers=[org.secretary("central/p1")]).to_bytes())
    apply(ledger, org.anchor(**body), HOUR)
    with pytest.raises(Rejected):
        ledger.check_submission(org.anchor(**LowerLog().grow(4).body()).to_bytes(), at_ms=T0 + HOUR + 1)
