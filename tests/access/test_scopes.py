"""The scope table (node/scopes.py, README "Who reads what"), row by row and
route by route: a caller inside the scope gets the data, outside it 403
``out_of_scope`` naming the scope, nobody 401; lists and statistics are
filtered, never padded.

The sample organisation (client/sample_org.py): central (m0001 secretary,
m0003 inspector), province central/p1 (m0004 secretary, m0006 inspector),
committee central/p1/k1 (m0007 secretary, m0009 inspector), its cells
central/p1/k1/s1 (m0010 secretary, m0012..m0024 plain members; m0012, its
first full plain member, was warned: client/sample_docs.py WARNED_UNIT) and
central/p1/k1/s2 (m0025 secretary); a finding by central/p1/k2's inspector
about the cell central/p1/k2/s3."""

from __future__ import annotations

import pytest

PUBLIC, PLAIN, WARNED, CELL_SEC, OTHER_CELL_SEC = None, "m0013", "m0012", "m0010", "m0025"
K1_SEC, K1_INSP, P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP, NODE = "m0007", "m0009", "m0004", "m0006", "m0001", "m0003", "n1"
CALLERS = [PUBLIC, PLAIN, WARNED, CELL_SEC, OTHER_CELL_SEC, K1_SEC, K1_INSP, P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP, NODE]


def _doc_id(world, doc_type, pred):
    return next(d["doc_id"] for d in world.docs(doc_type) if pred(d["doc"]))


def _targets(world):
    minutes = lambda org: _doc_id(world, "minutes", lambda d: d["org"] == org)  # noqa: E731
    status = lambda who, change: _doc_id(  # noqa: E731
        world, "member_status", lambda d: d["body"]["member"] == who and d["body"]["change"] == change)
    return {
        "minutes of s1": minutes("central/p1/k1/s1"),
        "minutes of s2": minutes("central/p1/k1/s2"),
        "minutes of p2": minutes("central/p2/k1/s1"),
        "admission in s1": status(PLAIN, "admitted"),
        "warning in s1": status(WARNED, "warning"),
        "finding on k2/s3": world.docs("inspection_finding")[0]["doc_id"],
    }


# document -> the callers (besides the node) that read it; everyone else gets 403, the public 401
READERS = {
    "minutes of s1": {PLAIN, WARNED, CELL_SEC, K1_SEC, K1_INSP, P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP},
    "minutes of s2": {OTHER_CELL_SEC, K1_SEC, K1_INSP, P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP},
    "minutes of p2": {ROOT_SEC, ROOT_INSP},
    "admission in s1": {PLAIN, WARNED, CELL_SEC, K1_SEC, K1_INSP, P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP},
    "warning in s1": {WARNED, K1_INSP, P1_INSP, ROOT_INSP},  # discipline: inspectors and the member
    "finding on k2/s3": {P1_INSP, ROOT_INSP},  # findings: inspectors above the subject only
}


@pytest.mark.parametrize("target", sorted(READERS))
@pytest.mark.parametrize("route", ["/v1/documents/{}", "/v1/documents/{}/receipt"])
def test_documents_by_scope(world, target, route):
    doc_id = _targets(world)[target]
    for who in CALLERS:
        r = world.client(who).get(route.format(doc_id))
        expected = 401 if who is None else 200 if who == NODE or who in READERS[target] else 403
        assert r.status_code == expected, f"{who} reading {target} via {route}: {r.status_code} {r.text[:200]}"
        if expected == 403:
            body = r.json()
            assert body["error"] == "out_of_scope" and body["scope"].startswith(f"member {who}")
            assert doc_id in body["message"]
        if expected == 200 and route.endswith("receipt"):
            from client.verify import verify_receipt

            assert verify_receipt(r.json(), world.genesis).doc_id == doc_id


PROFILE_READERS = {
    PLAIN: {PLAIN, CELL_SEC, K1_SEC, K1_INSP, P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP},  # not colleagues
    "m0025": {OTHER_CELL_SEC, K1_SEC, K1_INSP, P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP},
}


@pytest.mark.parametrize("member", sorted(PROFILE_READERS))
def test_member_profiles_by_scope(world, member):
    for who in CALLERS:
        r = world.client(who).get(f"/v1/members/{member}")
        expected = 401 if who is None else 200 if who == NODE or who in PROFILE_READERS[member] else 403
        assert r.status_code == expected, f"{who} reading {member}: {r.status_code} {r.text[:200]}"
        if expected == 200:
            assert r.json()["member"]["member_id"] == member


def test_discipline_in_a_profile_only_for_inspectors_and_the_member(world):
    def changes(who):
        r = world.client(who).get(f"/v1/members/{WARNED}", params={"limit": 500})
        assert r.status_code == 200
        return [e["change"] for e in r.json()["timeline"] if e["kind"] == "status"], r.json().get("withheld")

    for who in (K1_INSP, ROOT_INSP, NODE):
        history, withheld = changes(who)
        assert "warning" in history and withheld is None, who
    history, withheld = changes(WARNED)  # their own discipline, not the findings about them
    assert "warning" in history and withheld == ["findings"]
    for who in (CELL_SEC, K1_SEC, P1_SEC, ROOT_SEC):
        history, withheld = changes(who)
        assert "warning" not in history and "admitted" in history and withheld == ["discipline", "findings"], who


UNIT_READERS = {
    "central/p1/k1/s1": {PLAIN, WARNED, CELL_SEC, K1_SEC, K1_INSP, P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP},
    "central/p1": {P1_SEC, P1_INSP, ROOT_SEC, ROOT_INSP},
    "central/p2": {ROOT_SEC, ROOT_INSP},
}


@pytest.mark.parametrize("unit", sorted(UNIT_READERS))
@pytest.mark.parametrize("route", ["/v1/orgs/{}", "/v1/orgs/{}/stats"])
def test_units_and_stats_by_scope(world, unit, route):
    for who in CALLERS:
        r = world.client(who).get(route.format(unit))
        expected = 401 if who is None else 200 if who == NODE or who in UNIT_READERS[unit] else 403
        assert r.status_code == expected, f"{who} reading {route.format(unit)}: {r.status_code} {r.text[:200]}"
        if expected == 403:
            assert r.json()["field"] == "path"


def test_stats_hold_findings_and_discipline_only_for_inspectors(world):
    from .conftest import ANCHOR

    until = {"until": ANCHOR + 3_600_000}
    full = world.client(P1_INSP).get("/v1/orgs/central/p1/stats", params=until).json()
    assert full["inspection_findings"]["major"] == 1 and "withheld" not in full
    assert "warning" in full["member_status_changes"]
    cut = world.client(P1_SEC).get("/v1/orgs/central/p1/stats", params=until).json()
    assert "inspection_findings" not in cut and "warning" not in cut["member_status_changes"]
    assert all("inspection_findings" not in c for c in cut["children"]) and cut["children"][0]["own"] is True
    assert cut["withheld"][0] == "inspection_findings"
    assert cut["meetings"] == full["meetings"]  # the rest is the same, not padded nor cut


AUDITORS = {ROOT_INSP, NODE}


def test_block_envelopes_for_auditors_only(world):
    for who in CALLERS:
        r = world.client(who).get("/v1/blocks/2/envelopes")
        expected = 401 if who is None else 200 if who in AUDITORS else 403
        assert r.status_code == expected, f"{who}: {r.status_code}"


def test_metrics_for_node_keys_only(world):
    for who in (None, PLAIN, ROOT_INSP, NODE):
        r = world.client(who).get("/metrics")
        assert r.status_code == {None: 401, NODE: 200}.get(who, 403), who


def test_member_keys_for_any_authenticated_caller(world):
    r = world.client(OTHER_CELL_SEC).get(f"/v1/members/{PLAIN}/keys")
    assert r.status_code == 200 and len(r.json()["keys"]) == 1
    assert world.client(None).get(f"/v1/members/{PLAIN}/keys").status_code == 401


def test_public_reads_integrity_without_content(world):
    public = world.client(None)
    head = public.get("/v1/tree-head").json()
    assert head["height"] == world.service.ledger.height
    assert public.get(f"/v1/proofs/consistency?first=1&second={head['log_size']}").status_code == 200
    block = public.get("/v1/blocks/3").json()
    assert block["block_hash"] == world.service.ledger.block(3)["block_hash"]
    assert public.get("/v1/blocks?limit=2").status_code == 200
    assert public.get("/v1/status").status_code == 200 and public.get("/healthz").status_code == 200
    assert public.get(f"/v1/documents/{block['documents'][0]['doc_id']}").status_code == 401


def test_rejection_reasons_are_cut_to_their_code_for_those_who_do_not_read_everything():
    from .conftest import build_world

    w = build_world()
    doc = w.org._doc("test/unsigned-chair", "resolution", "central/p1/k1/s1",
                     {"number": "99/NQ", "title": "Thử", "text": "x", "adopted_at": 1, "tally": {
                         "for": 1, "against": 0, "abstain": 0, "eligible": 3}, "tasks": []}, w.service._clock)
    w.service.apply([w.sign(doc, [PLAIN])])  # a plain member may not sign a resolution
    height = w.service.ledger.height
    full = w.service.ledger.block(height)["documents"][0]["reason"]
    assert full.startswith("not_permitted: ") and "central/p1/k1/s1" in full
    for who in (None, PLAIN, P1_SEC):
        assert w.client(who).get(f"/v1/blocks/{height}").json()["documents"][0]["reason"] == "not_permitted"
    for who in (ROOT_INSP, NODE):
        assert w.client(who).get(f"/v1/blocks/{height}").json()["documents"][0]["reason"] == full
    assert w.client(None).get(f"/v1/blocks?from={height}").json()["blocks"][0]["documents"][0]["reason"] \
        == "not_permitted"


def test_public_types_open_what_a_deployment_chooses():
    from node.config import AccessSettings

    from .conftest import build_world

    class Config:
        access = AccessSettings(public_types=("resolution",))

    w = build_world(Config())
    resolution = w.docs("resolution")[0]["doc_id"]
    minutes = w.docs("minutes")[0]["doc_id"]
    assert w.client(None).get(f"/v1/documents/{resolution}").status_code == 200
    assert w.client(None).get(f"/v1/documents/{minutes}").status_code == 401
    assert w.client("m0025").get(f"/v1/documents/{resolution}").status_code == 200  # any caller, then


def test_inclusion_proof_by_leaf_hash_is_public_and_verifies(world):
    import hashlib as _h

    from ledger.jsonfmt import b64d
    from ledger.merkle import leaf_hash, verify_inclusion

    doc_id = _targets(world)["warning in s1"]  # content the public may not read, but may prove included
    envelope = b64d(world.client(NODE).get(f"/v1/documents/{doc_id}").json()["envelope"], "envelope")
    proof = world.client(None).get("/v1/proofs/inclusion", params={"doc_id": doc_id,
                                                                    "leaf_hash": leaf_hash(envelope).hex()})
    assert proof.status_code == 200
    body = proof.json()
    block = world.client(None).get(f"/v1/blocks/{body['height']}").json()
    assert block["header_fields"]["log_root"] == body["log_root"] and block["block_hash"] == body["block_hash"]
    verify_inclusion(leaf_hash(envelope), body["leaf_index"], body["log_size"],
                     [bytes.fromhex(h) for h in body["inclusion_proof"]], bytes.fromhex(body["log_root"]))
    wrong = world.client(None).get("/v1/proofs/inclusion", params={"doc_id": doc_id,
                                                                    "leaf_hash": _h.sha256(b"x").hexdigest()})
    assert wrong.status_code == 404 and "warning" not in wrong.text
