"""ledger/registry.py and ledger/genesis.py: the rules of who may sign what and
which transitions are legal."""

from __future__ import annotations

import copy

import pytest

from ledger.errors import BadSignature, InvalidInput, NotPermitted, Rejected
from ledger.genesis import Genesis
from ledger.keys import public_key
from ledger.registry import TRANSITIONS, Registry
from ledger.store import MemoryStore, Overlay
from tests.ledger.factory import CELLS, T0

AT = T0 + 1000
CELL = CELLS[0]  # central/p1/k1/s1


@pytest.fixture
def reg(org):
    view = Overlay(MemoryStore())
    return Registry.bootstrap(view, Genesis.from_json(org.genesis))


def snapshot(reg):
    return list(reg.view.scan(b""))


def rejects(reg, env, error=Rejected, at=AT, match=None):
    before = snapshot(reg)
    with pytest.raises(error, match=match):
        reg.apply(env, at)
    assert snapshot(reg) == before  # nothing written


# -- genesis --------------------------------------------------------------------

@pytest.mark.parametrize("mutate, field", [
    (lambda g: g["members"][3].update(unit="central/nowhere"), "members[3].unit"),
    (lambda g: g["members"][3].update(unit=["central"]), "members[3].unit"),  # unhashable: no TypeError
    (lambda g: g["members"][1].update(roles=[{"role": "secretary", "unit": {}}]), "members[1].roles[0].unit"),
    (lambda g: g["members"][2].update(status="expelled"), "members[2].status"),
    (lambda g: g["members"][1].update(roles=["king"]), "members[1].roles[0]"),
    (lambda g: g["members"][1].update(roles=[{"role": "secretary", "unit": "x"}]), "members[1].roles[0].unit"),
    (lambda g: g["members"][4].update(public_key="!!"), "members[4].public_key"),
    (lambda g: g["members"][4].update(member_id=g["members"][0]["member_id"]), "members[4].member_id"),
    (lambda g: g["members"][0].pop("unit"), "members[0].unit"),
    (lambda g: g["members"][0].update(age=3), "members[0]"),
    (lambda g: g["units"].append({"path": "central/p9/x", "name": "x", "kind": "cell"}), "units[12].path"),
    (lambda g: g["units"].append({"path": "other", "name": "x", "kind": "central"}), "units"),
    (lambda g: g["units"][1].update(path="Central/P1"), "units[1].path"),
    (lambda g: g["nodes"][1].update(role="boss"), "nodes[1].role"),
    (lambda g: g["nodes"][2].update(node_id="n1"), "nodes[2].node_id"),
    (lambda g: [n.update(role="learner") for n in g["nodes"]], "nodes"),
    (lambda g: g.pop("chain_id"), "chain_id"),
    (lambda g: g.update(created_at=1.5), "created_at"),
])
def test_genesis_errors_name_the_path(org, mutate, field):
    g = copy.deepcopy(org.genesis)
    mutate(g)
    with pytest.raises(InvalidInput) as info:
        Genesis.from_json(g)
    assert info.value.field == field, info.value.message


def test_genesis_hash_and_round_trip(org):
    g = Genesis.from_json(org.genesis)
    assert len(g.genesis_hash) == 32 and g.to_json() == org.genesis and g.root == "central"
    assert Genesis.from_json(g.to_json()).genesis_hash == g.genesis_hash
    assert Genesis.from_json({**org.genesis, "chain_id": "x"}).genesis_hash != g.genesis_hash
    assert Genesis.from_json({**org.genesis, "extra": [1]}).genesis_hash != g.genesis_hash


def test_genesis_time_zone(org):
    """The chain's zone for monthly figures: an IANA name, default Asia/Ho_Chi_Minh."""
    g = Genesis.from_json(org.genesis)
    assert g.time_zone == "Asia/Ho_Chi_Minh" and "time_zone" not in g.to_json()
    tokyo = Genesis.from_json({**org.genesis, "time_zone": "Asia/Tokyo"})
    assert tokyo.time_zone == "Asia/Tokyo" and tokyo.genesis_hash != g.genesis_hash
    for bad in ("Mars/Olympus", "", 7, None, "asia/ho_chi_minh"):
        with pytest.raises(InvalidInput) as info:
            Genesis.from_json({**org.genesis, "time_zone": bad})
        assert info.value.field == "time_zone", info.value.message


def test_bootstrap_queries(reg, org):
    assert reg.voters() == ["n1", "n2", "n3"] and reg.learners() == []
    assert reg.node_key("n1") == public_key(org.node_seeds["n1"]) and reg.node_key("n9") is None
    assert reg.unit("central/p1") == {"path": "central/p1", "name": "Province One", "kind": "province",
                                      "status": "open", "parent": "central", "created_at": org.genesis["created_at"]}
    assert [u["path"] for u in reg.children("central")] == ["central/p1", "central/p2"]
    sec = org.secretary(CELL)
    assert sec in reg.members_of(CELL)
    assert reg.member(sec)["roles"] == [{"role": "secretary", "unit": CELL}]
    assert reg.has_role(org.secretary("central"), "secretary", CELL)  # an ancestor's role counts
    assert not reg.has_role(sec, "secretary", "central/p1")
    assert reg.has_role(org.inspector("central/p1"), "inspector", "central/p1/k2/s2")
    assert [k["public_key"] for k in reg.member_keys(sec)] == [public_key(org.seeds[sec])]
    assert reg.member("nobody") is None and reg.unit("central/zz") is None


def test_every_type_applies_and_check_mutates_nothing(reg, org):
    for env in org.every_type():
        before = snapshot(reg)
        reg.check(env, AT)
        assert snapshot(reg) == before
        h = reg.state_hash()
        reg.apply(env, AT)
        assert reg.state_hash() != h


def test_replay_gives_same_state_hash(org):
    envs = org.every_type()
    hashes = []
    for _ in range(2):
        r = Registry.bootstrap(Overlay(MemoryStore()), Genesis.from_json(org.genesis))
        for e in envs:
            r.apply(e, AT)
        hashes.append((r.state_hash(), snapshot(r)))
    assert hashes[0] == hashes[1]


# -- signers and keys ---------------------------------------------------------------

def test_unknown_signer_and_wrong_key(reg, org):
    org.new_seed("stranger")
    rejects(reg, org.resolution(CELL, signers=["stranger"]), NotPermitted, match="not a registered member")
    sec = org.secretary(CELL)
    env = org.envelope("resolution", CELL, org.resolution(CELL).doc.body, [sec], seeds={sec: bytes(32)})
    rejects(reg, env, BadSignature, match="not one of its registered keys")


def test_revoked_key_signs_nothing_after_revocation(reg, org):
    sec = org.secretary(CELL)
    old = public_key(org.seeds[sec])
    new_seed = org.new_seed("new-key-of-sec")
    reg.apply(org.member_key("add", sec, public_key(new_seed)), AT)
    signed_before = org.resolution(CELL)
    reg.apply(org.member_key("revoke", sec, old), AT + 10)
    rejects(reg, signed_before, BadSignature, at=AT + 10, match="revoked")
    rejects(reg, org.resolution(CELL), BadSignature, at=AT + 20)
    reg.check(signed_before, AT + 9)  # before the revocation's block time it was valid
    body = org.resolution(CELL).doc.body
    reg.apply(org.envelope("resolution", CELL, body, [sec], seeds={sec: new_seed}), AT + 20)
    rejects(reg, org.member_key("revoke", sec, old), match="already revoked")
    rejects(reg, org.member_key("add", org.plain(CELL), public_key(new_seed)), match="already registered")


def test_key_governance_needs_parent_secretary(reg, org):
    m = org.plain(CELL)
    rejects(reg, org.member_key("add", m, bytes(range(32)), signers=[org.secretary(CELL)]), NotPermitted)
    reg.apply(org.member_key("add", m, bytes(range(32))), AT)


# -- roles per type -------------------------------------------------------------------

def test_minutes_chair_and_secretary_must_sign(reg, org):
    env = org.minutes(CELL)
    rejects(reg, org.minutes(CELL, signers=[org.secretary(CELL)]), NotPermitted, match="body.chair")
    outsider = org.plain(CELLS[1])
    rejects(reg, org.minutes(CELL, chair=outsider), NotPermitted, match="neither a member")
    reg.apply(env, AT)
    # a higher committee's officer holds a role in an ancestor: fine
    reg.apply(org.minutes(CELL, chair=org.deputy("central/p1")), AT)


def test_resolution_needs_secretary_or_deputy_of_org_or_ancestor(reg, org):
    reg.apply(org.resolution(CELL, signers=[org.deputy(CELL)]), AT)
    reg.apply(org.resolution(CELL, signers=[org.secretary("central/p1")]), AT)
    rejects(reg, org.resolution(CELL, signers=[org.plain(CELL, 2)]), NotPermitted)
    rejects(reg, org.resolution(CELL, signers=[org.secretary(CELLS[1])]), NotPermitted)
    rejects(reg, org.resolution("central/p1", signers=[org.secretary(CELL)]), NotPermitted)


def test_finding_needs_inspector_above_subject(reg, org):
    reg.apply(org.finding("central/p1", unit=CELL), AT)
    reg.apply(org.finding("central/p1/k1", member=org.plain(CELL)), AT)
    rejects(reg, org.finding("central/p1", unit=CELL, signers=[org.secretary("central/p1")]), NotPermitted)
    rejects(reg, org.finding("central/p1", unit="central/p2/k1"), Rejected, match="not 'central/p1' or below")
    rejects(reg, org.finding("central/p1", member="ghost"), Rejected, match="no member")


def test_doc_org_must_be_open_unit(reg, org):
    rejects(reg, org.resolution("central/zz", signers=[org.secretary("central")]), Rejected, match="not an open unit")


# -- member status transitions ---------------------------------------------------------

def test_transition_table_covers_every_change():
    from ledger.schemas import MEMBER_CHANGES
    assert sorted(TRANSITIONS) == sorted(MEMBER_CHANGES)


def test_admission_and_made_full(reg, org):
    env = org.member_status("newbie", "admitted", org=CELL)
    reg.apply(env, AT)
    assert reg.member("newbie")["status"] == "probationary" and "newbie" in reg.members_of(CELL)
    rejects(reg, org.member_status("newbie", "admitted", org=CELL), match="already exists")
    org.member_unit["newbie"] = CELL
    reg.apply(org.member_status("newbie", "made_full"), AT)
    assert reg.member("newbie")["status"] == "full"
    rejects(reg, org.member_status("newbie", "made_full"), match="not allowed for a member who is full")


def test_admission_needs_officer_of_target(reg, org):
    rejects(reg, org.member_status("x1", "admitted", org=CELL, signers=[org.secretary(CELLS[1])]), NotPermitted)


def test_discipline_and_terminal_states(reg, org):
    m = org.plain(CELL, 2)
    reg.apply(org.member_status(m, "warning"), AT)
    reg.apply(org.member_status(m, "expelled"), AT)
    assert reg.member(m)["status"] == "expelled"
    for change in ("warning", "reprimand", "award", "expelled", "transferred", "suspended", "made_full"):
        kw = {"to_org": CELLS[1]} if change == "transferred" else {}
        rejects(reg, org.member_status(m, change, **kw), match="not allowed")
    rejects(reg, org.resolution(CELL, signers=[m]), NotPermitted, match="expelled")


def test_dismissal_removes_from_office_not_from_membership(reg, org):
    sec = org.secretary(CELL)
    reg.apply(org.member_status(sec, "dismissal", signers=[org.secretary("central/p1/k1")]), AT)
    after = reg.member(sec)
    assert after["status"] == "full" and after["roles"] == [] and after["unit"] == CELL
    rejects(reg, org.resolution(CELL, signers=[sec]), NotPermitted)  # no longer secretary
    reg.apply(org.member_status(sec, "warning", signers=[org.secretary("central/p1/k1")]), AT)  # still a member


def test_suspension_and_reinstatement_restore_status(reg, org):
    m = org.plain(CELL, 1)  # probationary
    reg.apply(org.member_status(m, "suspended"), AT)
    assert reg.member(m)["status"] == "suspended"
    rejects(reg, org.member_status(m, "suspended"), match="not allowed")
    reg.apply(org.member_status(m, "reinstated"), AT)
    assert reg.member(m)["status"] == "probationary"
    rejects(reg, org.member_status(m, "reinstated"), match="not allowed")


def test_transfer_moves_member_and_needs_both_sides(reg, org):
    m = org.secretary(CELL)
    rejects(reg, org.member_status(m, "transferred", to_org="central/p1/k1/s2", signers=[org.secretary(CELL)]),
            NotPermitted)
    rejects(reg, org.member_status(m, "transferred", to_org="central/p1/k1/zz"), match="no unit")
    reg.apply(org.member_status(m, "transferred", to_org="central/p1/k1/s2"), AT)
    after = reg.member(m)
    assert after["unit"] == "central/p1/k1/s2" and after["roles"] == []  # roles stay behind
    assert m not in reg.members_of(CELL) and m in reg.members_of("central/p1/k1/s2")
    rejects(reg, org.member_status(m, "transferred", to_org="central/p1/k1/s2", org="central/p1/k1/s2"),
            match="already in")


def test_member_status_org_must_cover_member(reg, org):
    rejects(reg, org.member_status(org.plain(CELL), "award", org=CELLS[1], signers=[org.secretary("central")]),
            match="not 'central/p1/k1/s2' or below")


# -- units and roles -----------------------------------------------------------------

def test_org_units(reg, org):
    reg.apply(org.org_unit("create", "central/p1/k1/s9"), AT)
    assert reg.unit("central/p1/k1/s9")["status"] == "open"
    rejects(reg, org.org_unit("create", "central/p1/k1/s9"), match="already exists")
    rejects(reg, org.org_unit("create", "central/p1/k9/s1", signers=[org.secretary("central")]),
            match="not an open unit")
    rejects(reg, org.org_unit("create", "central/p1/k9/s1", org="central/p1", signers=[org.secretary("central")]),
            match="no unit")
    rejects(reg, org.org_unit("create", "central/p1/k1/s8", signers=[org.secretary("central/p1/k1/s1")]),
            NotPermitted)
    rejects(reg, org.org_unit("close", CELL), match="still has member")
    rejects(reg, org.org_unit("close", "central/p1/k1"), match="open child")
    reg.apply(org.org_unit("close", "central/p1/k1/s9"), AT)
    rejects(reg, org.org_unit("close", "central/p1/k1/s9"), match="closed")
    rejects(reg, org.org_unit("create", "central/p1/k1/s9/x"), match="not an open unit")
    rejects(reg, org.org_unit("close", "central", org="central"), match="root")


def test_roles(reg, org):
    m = org.plain(CELL, 3)
    reg.apply(org.role("grant", m, "deputy_secretary", CELL), AT)
    assert reg.has_role(m, "deputy_secretary", CELL)
    rejects(reg, org.role("grant", m, "deputy_secretary", CELL), match="already holds")
    rejects(reg, org.role("grant", m, "chair", CELL, signers=[org.secretary(CELL)]), NotPermitted)
    reg.apply(org.role("revoke", m, "deputy_secretary", CELL), AT)
    assert not reg.has_role(m, "deputy_secretary", CELL)
    rejects(reg, org.role("revoke", m, "deputy_secretary", CELL), match="does not hold")
    reg.apply(org.role("grant", m, "secretary", "central"), AT)  # root: its own secretary governs
    assert reg.has_role(m, "secretary", "central/p2/k1/s1")


# -- nodes -----------------------------------------------------------------------------

def test_node_documents(reg, org):
    reg.apply(org.node("add", "n4", role="learner"), AT)
    assert reg.learners() == ["n4"]
    rejects(reg, org.node("add", "n4", role="learner"), match="already exists")
    rejects(reg, org.node("add", "n5", key=reg.node_key("n1")), match="already a node")
    reg.apply(org.node("add", "n4", role="voter"), AT)  # promotion of a learner
    assert reg.voters() == ["n1", "n2", "n3", "n4"] and reg.learners() == []
    assert [n["node_id"] for n in reg.nodes()] == ["n1", "n2", "n3", "n4"]
    for n in ("n1", "n2", "n3"):
        reg.apply(org.node("remove", n), AT)
    rejects(reg, org.node("remove", "n4"), match="last voter")
    rejects(reg, org.node("remove", "n9"), match="no node")
    rejects(reg, org.node("add", "n6", signers=[org.secretary("central/p1")]), NotPermitted)
    rejects(reg, org.node("add", "n6", org="central/p1", signers=[org.secretary("central")]), match="root unit")
    reg.apply(org.node("add", "n1"), AT)  # a removed node's id and key may come back


def test_confidential_documents(reg, org):
    body = {"confidential": True, "commitment": bytes(32), "recipients": [org.secretary(CELL)], "meta": {}}
    reg.apply(org.envelope("minutes", CELL, body, [org.secretary(CELL)]), AT)
    rejects(reg, org.envelope("minutes", CELL, body, [org.plain(CELL, 2)]), NotPermitted)
    reg.apply(org.envelope("inspection_finding", CELL, body, [org.inspector("central/p1")]), AT)
    rejects(reg, org.envelope("inspection_finding", CELL, body, [org.secretary(CELL)]), NotPermitted)
    reg.apply(org.envelope("resolution", CELL, body, [org.deputy(CELL)]), AT)


def test_check_runs_on_a_read_only_store(org):
    store = MemoryStore()
    view = Overlay(store)
    Registry.bootstrap(view, Genesis.from_json(org.genesis))
    view.commit()
    registry = Registry(store)  # get/scan only, as Ledger.check_submission uses it
    registry.check(org.resolution(CELL), AT)
    with pytest.raises(NotPermitted):
        registry.check(org.resolution(CELL, signers=[org.plain(CELL)]), AT)
