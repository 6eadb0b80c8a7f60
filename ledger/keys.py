"""Ed25519 keys, domain-separated signatures and key files.

Every signature covers ``domain + message``: a document signature
(:data:`DOC_DOMAIN`) can never be replayed as a block signature
(:data:`BLOCK_DOMAIN`) or the other way round.

:func:`verify` never raises on bad input (wrong lengths, garbage): a
verifier fed hostile bytes answers False. Verification dominates the cost of
applying a block, so decoded ``VerifyKey`` objects are cached per key.

Key file (a format outside tools rely on, DESIGN.md), mode 0600, written
atomically (temporary file, fsync, rename); :func:`read_key_file` refuses an
unencrypted one that group or others may read (as ssh does)::

    {"member_id" | "node_id": "<id>",
     "public_key": "<b64url 32 bytes>",
     "secret_key": "<b64url 32-byte Ed25519 seed>"}

With a passphrase, ``secret_key`` is instead an object::

    {"kdf": "argon2id",
     "opslimit": <int>, "memlimit": <int>,       # nacl.pwhash.argon2id parameters,
                                                 # at most OPSLIMIT/MEMLIMIT_SENSITIVE
     "salt": "<b64url 16 bytes>",
     "box": "<b64url nacl.secret.SecretBox output: 24-byte nonce + ciphertext + MAC>"}

The box key is ``nacl.pwhash.argon2id.kdf(32, passphrase_utf8, salt,
opslimit, memlimit)``; the box opens to the 32-byte seed. An optional
``"nonce"`` field (b64url 24 bytes) is accepted when the box holds only
ciphertext + MAC.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from .errors import InvalidInput, KeyFileError
from .files import write_atomically
from .jsonfmt import b64d, b64e

__all__ = [
    "DOC_DOMAIN",
    "BLOCK_DOMAIN",
    "SEED_BYTES",
    "generate_seed",
    "public_key",
    "sign",
    "verify",
    "KeyFile",
    "write_key_file",
    "read_key_file",
]

DOC_DOMAIN = b"minutebook/doc/v1\0"
BLOCK_DOMAIN = b"minutebook/block/v1\0"
SEED_BYTES = 32
ID_FIELDS = ("member_id", "node_id")

_VERIFY_CACHE: dict[bytes, nacl.signing.VerifyKey] = {}
_VERIFY_CACHE_MAX = 65536


def generate_seed() -> bytes:
    """32 random bytes from the OS: a new Ed25519 seed."""
    return os.urandom(SEED_BYTES)


def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    # Not cached: seeds are secrets and should not outlive the caller's use of them.
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
        raise InvalidInput("seed", f"expected {SEED_BYTES} bytes")
    return nacl.signing.SigningKey(bytes(seed))


def public_key(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of `seed`."""
    return bytes(_signing_key(seed).verify_key)


def sign(seed: bytes, domain: bytes, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature over ``domain + message``."""
    return _signing_key(seed).sign(domain + message).signature


def verify(public_key: bytes, domain: bytes, message: bytes, sig: bytes) -> bool:
    """True iff `sig` is `public_key`'s signature over ``domain + message``.

    Never raises: malformed keys or signatures are simply False.
    """
    try:
        key = _VERIFY_CACHE.get(public_key)
        if key is None:
            if type(public_key) is not bytes or len(public_key) != 32:
                return False
            key = nacl.signing.VerifyKey(public_key)
            if len(_VERIFY_CACHE) >= _VERIFY_CACHE_MAX:
                _VERIFY_CACHE.clear()
            _VERIFY_CACHE[public_key] = key
        if type(sig) is not bytes or len(sig) != 64:
            return False
        key.verify(domain + message, sig)
        return True
    except Exception:  # noqa: BLE001 - a verifier answers False to anything hostile
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyFile:
    """A decoded key file: `id_field` is "member_id" or "node_id"."""

    id_field: str
    id: str
    public_key: bytes
    seed: bytes = b""

    def __repr__(self) -> str:  # never print a seed
        return f"KeyFile({self.id_field}={self.id!r}, public_key={b64e(self.public_key)})"


def _encrypt(seed: bytes, passphrase: str) -> dict:
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    ops = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
    mem = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode("utf-8"), salt, ops, mem)
    box = nacl.secret.SecretBox(key).encrypt(seed)
    return {"kdf": "argon2id", "opslimit": ops, "memlimit": mem, "salt": b64e(salt), "box": b64e(bytes(box))}


def _decrypt(obj: dict, passphrase: str) -> bytes:
    if obj.get("kdf") != "argon2id":
        raise KeyFileError(f"secret_key.kdf: unsupported kdf {obj.get('kdf')!r} (expected 'argon2id')")
    for f in ("opslimit", "memlimit", "salt", "box"):
        if f not in obj:
            raise KeyFileError(f"secret_key.{f}: missing field")
    ops, mem = obj["opslimit"], obj["memlimit"]
    if not (isinstance(ops, int) and isinstance(mem, int)) or isinstance(ops, bool) or isinstance(mem, bool):
        raise KeyFileError("secret_key.opslimit/memlimit: expected integers")
    # A key file is input too: bound the work it can make us do (SENSITIVE is 4 passes over 1 GiB).
    if not nacl.pwhash.argon2id.OPSLIMIT_MIN <= ops <= nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE:
        raise KeyFileError(f"secret_key.opslimit: expected {nacl.pwhash.argon2id.OPSLIMIT_MIN}.."
                           f"{nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE}, got {ops}")
    if not nacl.pwhash.argon2id.MEMLIMIT_MIN <= mem <= nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE:
        raise KeyFileError(f"secret_key.memlimit: expected {nacl.pwhash.argon2id.MEMLIMIT_MIN}.."
                           f"{nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE} bytes, got {mem}")
    try:
        salt = b64d(obj["salt"], "secret_key.salt", length=nacl.pwhash.argon2id.SALTBYTES)
        box = b64d(obj["box"], "secret_key.box")
        nonce = b64d(obj["nonce"], "secret_key.nonce", length=24) if obj.get("nonce") is not None else None
        key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode("utf-8"), salt, ops, mem)
        sb = nacl.secret.SecretBox(key)
        return sb.decrypt(box, nonce) if nonce is not None else sb.decrypt(box)
    except InvalidInput as exc:
        raise KeyFileError(exc.message) from None
    except nacl.exceptions.CryptoError:
        raise KeyFileError("wrong passphrase (the secret key does not decrypt)") from None
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"secret_key: cannot decrypt: {exc}") from None


def write_key_file(path, *, id_field: str, id: str, seed: bytes, passphrase: str | None = None) -> None:
    """Write a key file atomically with mode 0600 (temp file, fsync, rename)."""
    if id_field not in ID_FIELDS:
        raise KeyFileError(f"id_field must be one of {ID_FIELDS}, got {id_field!r}")
    if not isinstance(id, str) or not id:
        raise KeyFileError(f"{id_field}: expected a non-empty string")
    pk = public_key(seed)
    secret = _encrypt(bytes(seed), passphrase) if passphrase is not None else b64e(seed)
    data = json.dumps({id_field: id, "public_key": b64e(pk), "secret_key": secret}, indent=2) + "\n"
    write_atomically(path, data.encode("utf-8"), mode=0o600)


def _check_private(path) -> None:
    """An unencrypted seed that group or others can read is refused, as ssh
    refuses an unprotected private key: whoever reads it can sign minutes."""
    if os.name != "posix":
        return
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise KeyFileError(f"key file {path} holds an unencrypted seed but is readable by others "
                           f"(mode {mode:04o}); chmod 600 it or encrypt it with a passphrase")


def read_key_file(path, passphrase: str | None = None) -> KeyFile:
    """Read and check a key file; raises KeyFileError with what is wrong."""
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"key file {path} is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise KeyFileError("key file must hold a JSON object")
    present = [f for f in ID_FIELDS if f in obj]
    if len(present) != 1:
        raise KeyFileError("key file must have exactly one of member_id or node_id")
    id_field = present[0]
    ident = obj[id_field]
    if not isinstance(ident, str) or not ident:
        raise KeyFileError(f"{id_field}: expected a non-empty string")
    for f in ("public_key", "secret_key"):
        if f not in obj:
            raise KeyFileError(f"{f}: missing field")
    try:
        pk = b64d(obj["public_key"], "public_key", length=32)
    except InvalidInput as exc:
        raise KeyFileError(exc.message) from None
    secret = obj["secret_key"]
    if isinstance(secret, dict):
        if passphrase is None:
            raise KeyFileError("secret_key is encrypted: a passphrase is needed")
        seed = _decrypt(secret, passphrase)
    else:
        try:
            seed = b64d(secret, "secret_key")
        except InvalidInput as exc:
            raise KeyFileError(exc.message) from None
    if len(seed) != SEED_BYTES:
        raise KeyFileError(f"secret_key: expected a {SEED_BYTES}-byte seed, got {len(seed)} bytes")
    if public_key(seed) != pk:
        raise KeyFileError("public_key does not match the secret key's seed")
    if not isinstance(secret, dict):
        _check_private(path)
    return KeyFile(id_field=id_field, id=ident, public_key=pk, seed=seed)
