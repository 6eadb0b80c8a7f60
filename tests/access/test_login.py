"""Pages log in without sending a secret (node/routes/auth.py, web/js/auth.js):
a challenge signed with the member's key gives a short-lived session cookie
(HttpOnly, SameSite=Strict) honoured as that member; logout ends it; a
challenge is good once; a key revoked during a session ends it. The browser
module's signature is checked against the node's own verification, by
running web/js/auth.js under Node's WebCrypto (the same Ed25519 WebCrypto
API Chromium has)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.jsonfmt import b64d, b64e
from ledger.keys import public_key, sign, verify
from node.auth import LOGIN_DOMAIN

from .conftest import build_world

REPO = Path(__file__).resolve().parents[2]
M = "m0012"


def _login(world, client, member=M, seed=None):
    challenge = client.post("/v1/auth/challenge").json()["challenge"]
    sig = sign(seed or world.org.seed_of(member), LOGIN_DOMAIN, b64d(challenge, "challenge"))
    return client.post("/v1/auth/login", json={"member_id": member, "challenge": challenge,
                                               "signature": b64e(sig)}), challenge, sig


@pytest.fixture
def world():
    return build_world()


def test_login_gives_a_session_honoured_as_the_member(world):
    client = world.client(None)
    assert client.get(f"/v1/members/{M}").status_code == 401
    r, _, _ = _login(world, client)
    assert r.status_code == 200 and r.json()["member_id"] == M
    cookie = r.headers["set-cookie"]
    assert "mb_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=900" in cookie
    assert "Secure" not in cookie  # plain http (tests); set over https
    session = client.get("/v1/auth/session").json()
    unit = client.get(f"/v1/members/{M}").json()["member"]["unit"]
    assert session == {"caller": M, "kind": "member", "via": "session", "scope": session["scope"],
                       "reads_all": False, "reach": [], "own_unit": unit, "home_unit": unit}  # no role: their unit
    assert client.get(f"/v1/members/{M}").status_code == 200
    assert client.get("/v1/members/m0013").status_code == 403  # the session carries the member's scope
    assert client.post("/v1/auth/logout").json() == {"closed": True}
    r = client.get(f"/v1/members/{M}")
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"


def test_a_challenge_is_good_once_and_must_be_the_nodes(world):
    client = world.client(None)
    r, challenge, sig = _login(world, client)
    assert r.status_code == 200
    again = client.post("/v1/auth/login", json={"member_id": M, "challenge": challenge, "signature": b64e(sig)})
    assert again.status_code == 401 and "used or expired" in again.json()["message"]
    made_up = b64e(bytes(32))
    r = client.post("/v1/auth/login", json={"member_id": M, "challenge": made_up,
                                            "signature": b64e(sign(world.org.seed_of(M), LOGIN_DOMAIN, bytes(32)))})
    assert r.status_code == 401


def test_a_wrong_key_or_a_stranger_cannot_log_in(world):
    client = world.client(None)
    r, _, _ = _login(world, client, seed=bytes(range(32)))
    assert r.status_code == 401 and "does not verify" in r.json()["message"]
    r, _, _ = _login(world, client, member="m9999", seed=bytes(32))
    assert r.status_code == 401
    r = client.post("/v1/auth/login", json={"member_id": M})
    assert r.status_code == 400 and r.json()["field"] == "challenge"


def test_a_session_ends_when_its_key_is_revoked(world):
    client = world.client(None)
    assert _login(world, client)[0].status_code == 200
    revoke = world.org._doc("test/revoke-session", "member_key", "central/p1/k1/s1",
                            {"action": "revoke", "member": M, "public_key": public_key(world.org.seed_of(M))},
                            world.service._clock)
    world.service.apply([world.sign(revoke, ["m0007"])])
    r = client.get(f"/v1/members/{M}")
    assert r.status_code == 401 and "session" in r.json()["message"]


def test_a_session_expires(world):
    client = world.client(None)
    auth = world.app.state.auth
    assert _login(world, client)[0].status_code == 200
    real = auth.clock
    auth.clock = lambda: real() + 901
    try:
        assert client.get(f"/v1/members/{M}").status_code == 401
    finally:
        auth.clock = real


def test_the_login_page_and_module_are_served_without_a_key(world):
    """/login is one of the web pages (the shell, web/js/pages/login.js over web/js/auth.js); the
    browser tests sign in through it (tests/web/)."""
    client = world.client(None)
    page = client.get("/login")
    assert page.status_code == 200 and 'src="/web/js/app.js"' in page.text
    login = client.get("/web/js/pages/login.js")
    assert login.status_code == 200 and 'from "../auth.js"' in login.text
    module = client.get("/web/js/auth.js")
    assert module.status_code == 200 and "export async function login" in module.text


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (WebCrypto Ed25519) to run web/js/auth.js")
def test_the_browser_module_signs_what_the_node_verifies(tmp_path):
    seed = bytes(range(1, 33))
    key_text = json.dumps({"member_id": M, "public_key": b64e(public_key(seed)), "secret_key": b64e(seed)})
    challenge = bytes(range(100, 132))
    script = tmp_path / "sign.mjs"
    script.write_text(
        f"import {{parseKeyFile, signChallenge, b64urlEncode, b64urlDecode}} from "
        f"{json.dumps((REPO / 'web/js/auth.js').as_uri())};\n"
        f"const key = parseKeyFile({json.dumps(key_text)});\n"
        f"const sig = await signChallenge(key, b64urlDecode({json.dumps(b64e(challenge))}));\n"
        f"console.log(b64urlEncode(sig));\n"
        f"try {{ parseKeyFile(JSON.stringify({{member_id: 'm1', public_key: 'x', secret_key: {{kdf: 'argon2id'}}}})); }}"
        f" catch (e) {{ console.log(e.message); }}\n", encoding="utf-8")
    out = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    sig_line, encrypted_line = out.stdout.strip().splitlines()
    assert verify(public_key(seed), LOGIN_DOMAIN, challenge, b64d(sig_line, "sig"))
    assert sig_line == b64e(sign(seed, LOGIN_DOMAIN, challenge))  # Ed25519 is deterministic
    assert "encrypted" in encrypted_line and "CLI" in encrypted_line
