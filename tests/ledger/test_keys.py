"""ledger/keys.py: domain-separated Ed25519 and the key file format."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ledger.errors import KeyFileError
from ledger.jsonfmt import b64d, b64e
from ledger.keys import (BLOCK_DOMAIN, DOC_DOMAIN, KeyFile, generate_seed, public_key, read_key_file, sign, verify,
                         write_key_file)

SEED = bytes(range(32))


def test_sign_verify_and_domain_separation():
    pk = public_key(SEED)
    sig = sign(SEED, DOC_DOMAIN, b"hello")
    assert len(pk) == 32 and len(sig) == 64
    assert verify(pk, DOC_DOMAIN, b"hello", sig)
    assert not verify(pk, BLOCK_DOMAIN, b"hello", sig)  # a doc signature is no block signature
    assert not verify(pk, DOC_DOMAIN, b"hellO", sig)
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    assert not verify(pk, DOC_DOMAIN, b"hello", flipped)
    assert not verify(public_key(generate_seed()), DOC_DOMAIN, b"hello", sig)


@pytest.mark.parametrize("pk, sig", [(b"", b"x" * 64), (b"x" * 31, b"x" * 64), (None, None), ("str", b"x" * 64),
                                     (bytes(32), b""), (bytes(32), b"x" * 65), (bytes([0xFF]) * 32, bytes(64))])
def test_verify_never_raises(pk, sig):
    assert verify(pk, DOC_DOMAIN, b"m", sig) is False


def test_generate_seed_is_random_32_bytes():
    a, b = generate_seed(), generate_seed()
    assert len(a) == 32 and a != b


def test_key_file_round_trip_mode_and_shape(tmp_path):
    path = tmp_path / "m1.json"
    write_key_file(path, id_field="member_id", id="m1", seed=SEED)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    obj = json.loads(path.read_text())
    assert set(obj) == {"member_id", "public_key", "secret_key"}
    assert b64d(obj["secret_key"]) == SEED and b64d(obj["public_key"]) == public_key(SEED)
    kf = read_key_file(path)
    assert kf == KeyFile(id_field="member_id", id="m1", public_key=public_key(SEED), seed=SEED)
    assert b64e(SEED) not in repr(kf)
    assert [p.name for p in tmp_path.iterdir()] == ["m1.json"]  # no temporary file left behind


def test_encrypted_key_file(tmp_path):
    path = tmp_path / "n1.json"
    write_key_file(path, id_field="node_id", id="n1", seed=SEED, passphrase="correct horse")
    obj = json.loads(path.read_text())
    assert obj["secret_key"]["kdf"] == "argon2id"
    assert set(obj["secret_key"]) == {"kdf", "opslimit", "memlimit", "salt", "box"}
    assert read_key_file(path, "correct horse").seed == SEED
    with pytest.raises(KeyFileError, match="passphrase"):
        read_key_file(path)
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        read_key_file(path, "wrong")


def _write(tmp_path, obj):
    p = tmp_path / "k.json"
    p.write_text(json.dumps(obj))
    p.chmod(0o600)
    return p


@pytest.mark.parametrize("mutate, message", [
    (lambda o: o.pop("public_key"), "public_key: missing"),
    (lambda o: o.pop("secret_key"), "secret_key: missing"),
    (lambda o: o.pop("member_id"), "member_id or node_id"),
    (lambda o: o.update(node_id="n1"), "exactly one"),
    (lambda o: o.update(public_key=b64e(public_key(bytes(32)))), "does not match"),
    (lambda o: o.update(secret_key=b64e(b"short")), "32-byte seed"),
    (lambda o: o.update(secret_key="@@@"), "base64url"),
])
def test_bad_key_files(tmp_path, mutate, message):
    obj = {"member_id": "m1", "public_key": b64e(public_key(SEED)), "secret_key": b64e(SEED)}
    mutate(obj)
    with pytest.raises(KeyFileError, match=message):
        read_key_file(_write(tmp_path, obj))


def test_unreadable_key_files(tmp_path):
    with pytest.raises(KeyFileError, match="cannot read"):
        read_key_file(tmp_path / "missing.json")
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(KeyFileError, match="not JSON"):
        read_key_file(p)


def test_readable_unencrypted_key_file_is_refused(tmp_path):
    path = tmp_path / "k.json"
    write_key_file(path, id_field="member_id", id="m1", seed=SEED)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others .mode 0644.; chmod 600"):
        read_key_file(path)
    path.chmod(0o600)
    assert read_key_file(path).seed == SEED
    enc = tmp_path / "enc.json"
    write_key_file(enc, id_field="node_id", id="n1", seed=SEED, passphrase="pw")
    enc.chmod(0o644)  # an encrypted seed may be shared (backups, devnet folders)
    assert read_key_file(enc, "pw").seed == SEED


def test_encrypted_key_file_work_is_bounded(tmp_path):
    path = tmp_path / "enc.json"
    write_key_file(path, id_field="member_id", id="m1", seed=SEED, passphrase="pw")
    obj = json.loads(path.read_text())
    for field, value in (("memlimit", 1 << 42), ("opslimit", 1 << 30), ("opslimit", 0)):
        bad = json.loads(json.dumps(obj))
        bad["secret_key"][field] = value
        path.write_text(json.dumps(bad))
        with pytest.raises(KeyFileError, match=f"secret_key.{field}: expected"):
            read_key_file(path, "pw")
