"""Signed requests against a node (node/auth.py): what authenticates and
every way a signature is refused -- replayed, after its window, with a
changed query, a changed body, by an unknown or revoked key, by a member no
longer active."""

from __future__ import annotations

import time

import httpx
import pytest

from client.signing import RequestSigner
from ledger.keys import public_key
from tests.node.service_double import key_file, signed_client

from .conftest import build_world

M = "m0012"  # a plain member of central/p1/k1/s1


def _signed_headers(world, who, method, url, *, clock=time.time, content=b""):
    request = httpx.Request(method, "http://testserver" + url, content=content)
    RequestSigner(key_file(who, world.org.seed_of(who)), clock=clock).sign(request)
    return dict(request.headers)


def test_a_signed_read_authenticates_the_member(world):
    r = world.client(M).get("/v1/auth/session")
    assert r.status_code == 200
    assert r.json()["caller"] == M and r.json()["kind"] == "member" and r.json()["via"] == "signature"
    assert "central/p1/k1/s1" in r.json()["scope"]


def test_a_node_key_authenticates_the_node(world):
    r = world.client("n2").get("/v1/auth/session")
    assert r.json()["caller"] == "n2" and r.json()["kind"] == "node" and r.json()["scope"] == "node n2: everything"
    assert r.json()["reads_all"] is True and r.json()["home_unit"] == "central" and r.json()["reach"] == ["central"]


def test_the_session_says_where_the_pages_start(world):
    """home_unit: the highest unit a member's roles reach, else their own unit; reads_all: only for a
    scope that reads every record (an inspector of the root)."""
    org = world.org
    for who, home, everything in [(M, world.client("n2").get(f"/v1/members/{M}").json()["member"]["unit"], False),
                                  (org._officer("central/p1/k1/s1", "secretary"), "central/p1/k1/s1", False),
                                  (org._officer("central/p1/k1", "secretary"), "central/p1/k1", False),
                                  (org._officer("central", "inspector"), "central", True)]:
        answer = world.client(who).get("/v1/auth/session").json()
        assert (answer["home_unit"], answer["reads_all"]) == (home, everything), who
        assert answer["reach"] == ([] if who == M else [home]), who


def test_the_same_signed_request_twice_is_a_replay(world):
    client = world.client(None)
    headers = _signed_headers(world, M, "GET", f"/v1/members/{M}")
    assert client.get(f"/v1/members/{M}", headers=headers).status_code == 200
    r = client.get(f"/v1/members/{M}", headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "bad_request_signature"
    assert "replayed" in r.json()["message"]


def test_a_signature_replayed_after_its_window_is_refused(world):
    headers = _signed_headers(world, M, "GET", f"/v1/members/{M}", clock=lambda: time.time() - 200)
    r = world.client(None).get(f"/v1/members/{M}", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["message"]


def test_a_changed_query_does_not_verify(world):
    headers = _signed_headers(world, M, "GET", "/v1/orgs/central/p1/k1/s1/stats?since=2025-01-01")
    r = world.client(None).get("/v1/orgs/central/p1/k1/s1/stats?since=2025-01-02", headers=headers)
    assert r.status_code == 401 and "does not verify" in r.json()["message"]
    assert world.client(None).get("/v1/orgs/central/p1/k1/s1/stats?since=2025-01-01",
                                  headers=headers).status_code == 200


def test_a_changed_path_or_method_does_not_verify(world):
    headers = _signed_headers(world, M, "GET", f"/v1/members/{M}")
    assert world.client(None).get("/v1/members/m0013", headers=headers).status_code == 401
    assert world.client(None).post("/v1/auth/logout", headers=headers).status_code == 401


def test_a_body_must_match_its_signed_digest(world):
    headers = _signed_headers(world, M, "POST", "/v1/auth/logout", content=b"{}")
    r = world.client(None).post("/v1/auth/logout", content=b"{} ", headers=headers)
    assert r.status_code == 401 and "does not match the body" in r.json()["message"]


def test_a_future_or_overlong_window_is_refused(world):
    headers = _signed_headers(world, M, "GET", f"/v1/members/{M}", clock=lambda: time.time() + 120)
    r = world.client(None).get(f"/v1/members/{M}", headers=headers)
    assert r.status_code == 401 and "in the future" in r.json()["message"]
    request = httpx.Request("GET", f"http://testserver/v1/members/{M}")
    RequestSigner(key_file(M, world.org.seed_of(M)), lifetime=3600).sign(request)
    r = world.client(None).get(f"/v1/members/{M}", headers=dict(request.headers))
    assert r.status_code == 401 and "at most 300 s" in r.json()["message"]


def test_an_unknown_keyid_or_an_unregistered_key_is_refused(world):
    stranger = signed_client(world.app, key_file("m9999", bytes(32)))
    r = stranger.get("/v1/auth/session")
    assert r.status_code == 401 and "no registered member or node" in r.json()["message"]
    impostor = signed_client(world.app, key_file(M, bytes(range(32))))  # right id, wrong key
    r = impostor.get("/v1/auth/session")
    assert r.status_code == 401 and "does not verify under any registered key" in r.json()["message"]


def test_a_bad_signature_on_a_public_route_is_not_ignored(world):
    impostor = signed_client(world.app, key_file(M, bytes(range(32))))
    assert impostor.get("/v1/tree-head").status_code == 401
    assert world.client(None).get("/v1/tree-head").status_code == 200


@pytest.fixture(scope="module")
def own_world():
    return build_world()


def test_a_revoked_key_is_refused_at_once(own_world):
    w = own_world
    member, secretary_of_parent = "m0013", "m0007"  # s1's member; k1's secretary governs s1's keys
    client = w.client(member)
    assert client.get("/v1/auth/session").status_code == 200
    revoke = w.org._doc("test/revoke", "member_key", "central/p1/k1/s1",
                        {"action": "revoke", "member": member, "public_key": public_key(w.org.seed_of(member))},
                        w.service._clock)
    w.service.apply([w.sign(revoke, [secretary_of_parent])])
    assert w.service.ledger.block(w.service.ledger.height)["documents"][0]["status"] == "accepted"
    r = client.get("/v1/auth/session")
    assert r.status_code == 401 and "was revoked" in r.json()["message"]


def test_a_suspended_member_cannot_read(own_world):
    w = own_world
    member = "m0014"
    client = w.client(member)
    assert client.get(f"/v1/members/{member}").status_code == 200
    suspend = w.org._doc("test/suspend", "member_status", "central/p1/k1/s1",
                         {"member": member, "change": "suspended", "effective_at": w.service._clock,
                          "reason": "kỷ luật"}, w.service._clock)
    w.service.apply([w.sign(suspend, ["m0010"])])
    assert w.service.ledger.block(w.service.ledger.height)["documents"][0]["status"] == "accepted"
    r = client.get(f"/v1/members/{member}")
    assert r.status_code == 401 and "suspended" in r.json()["message"]


def test_the_replay_cache_keeps_a_nonce_until_its_window_ends():
    from node.auth import ReplayCache, ReplayCacheFull

    cache = ReplayCache(capacity=2)
    assert cache.add(("member", "m1", "n1"), until=100.0, now=0.0)
    assert not cache.add(("member", "m1", "n1"), until=100.0, now=99.0)
    assert cache.add(("member", "m1", "n2"), until=10.0, now=1.0)
    with pytest.raises(ReplayCacheFull):
        cache.add(("member", "m1", "n3"), until=50.0, now=5.0)  # full: refused, nothing forgotten early
    assert cache.add(("member", "m1", "n3"), until=50.0, now=11.0)  # n2's window is over: room again
    assert len(cache) == 2
    assert cache.add(("member", "m1", "n1"), until=300.0, now=101.0)  # n1's window ended: new again
