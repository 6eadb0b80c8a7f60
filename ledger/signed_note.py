"""C2SP signed notes (c2sp.org/signed-note@v1.0.0), to the byte, with Ed25519
note signatures (type 0x01) and Ed25519 timestamped cosignatures (type 0x04,
c2sp.org/tlog-cosignature@v1.0.1).

Theory of operation
-------------------
A signed note is a text ending in a newline, a blank line, and one or more
signature lines::

    <text, every line ending in "\\n">
    <blank line>
    — <key name> <base64(4-byte big-endian key ID || signature)>

The whole note is UTF-8 with no ASCII control character but the newline; the
text is everything up to and including the newline before the *last* blank
line. A key name is non-empty and holds no Unicode space (the White_Space
property, as Go's ``unicode.IsSpace``) and no ``+``. Base64 is RFC 4648 §4
with padding. A key is identified by the pair (key name, key ID), never by
either alone; the key ID is

    SHA-256(key name || 0x0A || signature type || public key)[:4]

and a verifier key ("vkey") is written ``<name>+<hex key ID>+<base64(type ||
public key)>``. :func:`open_note` follows golang.org/x/mod/sumdb/note's
``Open``: signatures from unknown keys are kept aside, unverified; a known
key's signature that does not verify fails the whole note; a key's repeated
signature counts once; a note with no verified signature fails; more than
:data:`MAX_SIGNATURES` lines are refused (the spec requires accepting 16).

Type 0x01 signs the note text itself. Type 0x04 (a witness's cosignature)
signs ``"cosignature/v1\\n" "time <T>\\n" || text`` and its signature bytes are
the 8-byte big-endian POSIX time T followed by the 64-byte Ed25519 signature.

Domain separation from minutebook's own signatures (ledger/keys.py): those
cover ``b"minutebook/doc/v1\\0" + ...`` or ``b"minutebook/block/v1\\0" + ...``,
and a NUL byte can appear in no note text and no cosigned message, so no
signature of one kind verifies as the other even under the same key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Iterable

from .errors import BadNoteSignature, InvalidInput, MalformedNote, UnverifiedNote
from .keys import sign, verify

__all__ = [
    "SIG_ED25519",
    "SIG_COSIGNATURE_V1",
    "MAX_SIGNATURES",
    "WHITE_SPACE",
    "is_key_name",
    "key_id",
    "b64std",
    "b64std_decode",
    "VerifierKey",
    "NoteSignature",
    "Note",
    "OpenedNote",
    "open_note",
    "sign_note",
    "cosign_note",
    "cosignature_message",
    "cosignature_timestamp",
]

SIG_ED25519 = 0x01  # signed-note §"Signature types"
SIG_COSIGNATURE_V1 = 0x04  # tlog-cosignature: timestamped Ed25519 checkpoint cosignature
MAX_SIGNATURES = 100  # what sumdb/note's Open allows; the spec's floor is 16
_KNOWN_TYPES = (SIG_ED25519, SIG_COSIGNATURE_V1)
_SIG_PREFIX = "— "  # U+2014 EM DASH, U+0020 SPACE
_NO_DOMAIN = b""  # notes are signed bare; see the module docstring for why that cannot collide
_MAX_TIMESTAMP = (1 << 63) - 1

# Unicode White_Space (what Go's unicode.IsSpace tests), which key names must not contain.
WHITE_SPACE = frozenset(
    chr(c) for c in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                     0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
)


def is_key_name(name: object) -> bool:
    """A signed-note key name: non-empty, no Unicode space, no ``+``."""
    return isinstance(name, str) and bool(name) and "+" not in name and not any(c in WHITE_SPACE for c in name)


def key_id(name: str, key_type: int, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || key_type || public_key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + bytes(public_key)).digest()
    return int.from_bytes(digest[:4], "big")


def b64std(data: bytes) -> str:
    """RFC 4648 §4 base64 with padding (the signed-note and checkpoint alphabet)."""
    return base64.b64encode(bytes(data)).decode("ascii")


def b64std_decode(text: str, field: str) -> bytes:
    """Strict RFC 4648 §4 base64 (padding required, no other characters)."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidInput(field, f"not base64 (RFC 4648 §4, padded): {text[:80]!r}") from None


def _check_text(text: str, field: str) -> None:
    """Valid UTF-8 is given (str); no ASCII control character but newline."""
    for i, c in enumerate(text):
        if c < " " and c != "\n":
            raise MalformedNote(field, f"control character U+{ord(c):04X} at offset {i} (only newline is allowed)")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierKey:
    """A note verifier key: name, key ID, signature type and Ed25519 public key."""

    name: str
    key_id: int
    key_type: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_key_name(self.name):
            raise InvalidInput("vkey.name", f"not a key name (non-empty, no spaces, no '+'): {self.name!r}")
        if self.key_type not in _KNOWN_TYPES:
            raise InvalidInput("vkey.type", f"signature type 0x{self.key_type:02x} is not supported "
                                            "(0x01 Ed25519, 0x04 Ed25519 cosignature)")
        if type(self.public_key) is not bytes or len(self.public_key) != 32:
            raise InvalidInput("vkey.public_key", "expected a 32-byte Ed25519 public key")
        if self.key_id != key_id(self.name, self.key_type, self.public_key):
            raise InvalidInput("vkey.key_id", f"key ID {self.key_id:08x} is not the hash of the name, type and key "
                                              f"({key_id(self.name, self.key_type, self.public_key):08x})")

    @classmethod
    def of(cls, name: str, public_key: bytes, key_type: int = SIG_ED25519) -> "VerifierKey":
        if not is_key_name(name):
            raise InvalidInput("vkey.name", f"not a key name (non-empty, no spaces, no '+'): {name!r}")
        return cls(name=name, key_id=key_id(name, key_type, public_key), key_type=key_type,
                   public_key=bytes(public_key))

    @classmethod
    def from_text(cls, text: object, field: str = "vkey") -> "VerifierKey":
        """Parse ``<name>+<8 hex>+<base64(type || key)>``; the key ID must match."""
        if not isinstance(text, str):
            raise InvalidInput(field, f"expected a verifier key string, got {type(text).__name__}")
        name, _, rest = text.partition("+")  # the name and ID hold no "+"; base64 may
        hex_id, sep, key64 = rest.partition("+")
        if not sep:
            raise InvalidInput(field, f"expected <name>+<hex key ID>+<base64 key>, got {text[:120]!r}")
        if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id.lower()):
            raise InvalidInput(field, f"key ID {hex_id!r} is not 8 hex digits")
        raw = b64std_decode(key64, field)
        if not raw:
            raise InvalidInput(field, "empty key")
        try:
            return cls(name=name, key_id=int(hex_id, 16), key_type=raw[0], public_key=raw[1:])
        except InvalidInput as exc:
            raise InvalidInput(field, exc.message) from None

    @property
    def text(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{b64std(bytes([self.key_type]) + self.public_key)}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether `signature` (the bytes after the key ID) signs `text` under this key."""
        if self.key_type == SIG_COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > _MAX_TIMESTAMP:
                return False
            return verify(self.public_key, _NO_DOMAIN, cosignature_message(timestamp, text), signature[8:])
        return verify(self.public_key, _NO_DOMAIN, text, signature)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        """``— <name> <base64(key ID || signature)>\\n``"""
        return f"{_SIG_PREFIX}{self.name} {b64std(self.key_id.to_bytes(4, 'big') + self.signature)}\n"

    @classmethod
    def from_line(cls, line: str, field: str = "signature") -> "NoteSignature":
        """Parse one line without its newline."""
        if not line.startswith(_SIG_PREFIX):
            raise MalformedNote(field, f"a signature line starts with '— ', got {line[:40]!r}")
        name, sep, b64 = line[len(_SIG_PREFIX):].partition(" ")
        if not sep or not is_key_name(name) or not b64:
            raise MalformedNote(field, f"expected '— <key name> <base64>', got {line[:120]!r}")
        try:
            raw = b64std_decode(b64, field)
        except InvalidInput as exc:
            raise MalformedNote(field, exc.rule) from None
        if len(raw) < 5:
            raise MalformedNote(field, "a signature is a 4-byte key ID and at least one byte")
        return cls(name=name, key_id=int.from_bytes(raw[:4], "big"), signature=raw[4:])

    def matches(self, key: VerifierKey) -> bool:
        return self.name == key.name and self.key_id == key.key_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """A signed note: its text (ending in a newline) and signature lines, in order."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_bytes(self) -> bytes:
        return (self.text + "\n" + "".join(s.line for s in self.signatures)).encode("utf-8")

    @classmethod
    def parse(cls, data: bytes | str, field: str = "note") -> "Note":
        """Split a note into text and signature lines; MalformedNote names what is wrong."""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedNote(field, f"not valid UTF-8 at byte {exc.start}") from None
        _check_text(data, field)
        split = data.rfind("\n\n")
        if split < 0:
            raise MalformedNote(field, "no blank line before the signatures")
        text, block = data[:split + 1], data[split + 2:]
        if not block or not block.endswith("\n"):
            raise MalformedNote(field, "the signature lines must be present and end in a newline")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise MalformedNote(field, f"{len(lines)} signatures; at most {MAX_SIGNATURES} are read")
        return cls(text=text, signatures=tuple(NoteSignature.from_line(line, f"{field}.signatures[{i}]")
                                               for i, line in enumerate(lines)))


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedNote:
    """A note whose known signatures all verified: ``verified`` pairs each with its key."""

    text: str
    verified: tuple[tuple[VerifierKey, NoteSignature], ...]
    unverified: tuple[NoteSignature, ...]


def open_note(data: bytes | str | Note, verifiers: Iterable[VerifierKey], field: str = "note") -> OpenedNote:
    """Verify a signed note against trusted `verifiers` (sumdb/note's ``Open``).

    Raises MalformedNote (bad syntax), BadNoteSignature (a known key's
    signature does not verify), UnverifiedNote (no known key signed), and
    InvalidInput when two trusted keys share a name and ID.
    """
    note = data if isinstance(data, Note) else Note.parse(data, field)
    by_id: dict[tuple[str, int], list[VerifierKey]] = {}
    for key in verifiers:
        by_id.setdefault((key.name, key.key_id), []).append(key)
    text = note.text.encode("utf-8")
    verified: list[tuple[VerifierKey, NoteSignature]] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, int]] = set()
    for i, sig in enumerate(note.signatures):
        keys = by_id.get((sig.name, sig.key_id))
        if keys is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if len(keys) > 1:
            raise InvalidInput("verifiers", f"ambiguous key {sig.name}+{sig.key_id:08x}: trusted twice")
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not keys[0].verify(text, sig.signature):
            raise BadNoteSignature(sig.name, sig.key_id, f"{field}.signatures[{i}]")
        verified.append((keys[0], sig))
    if not verified:
        raise UnverifiedNote(f"{field} carries no signature from a trusted key "
                             f"({len(unverified)} from other keys)", f"{field}.signatures")
    return OpenedNote(text=note.text, verified=tuple(verified), unverified=tuple(unverified))


def _check_signable(text: str) -> bytes:
    if not text.endswith("\n"):
        raise MalformedNote("note.text", "a note text ends in a newline")
    _check_text(text, "note.text")
    return text.encode("utf-8")


def sign_note(text: str, name: str, seed: bytes) -> NoteSignature:
    """An Ed25519 (type 0x01) signature of `text` by the key with `seed`, named `name`."""
    from .keys import public_key

    message = _check_signable(text)
    key = VerifierKey.of(name, public_key(seed), SIG_ED25519)
    return NoteSignature(name=name, key_id=key.key_id, signature=sign(seed, _NO_DOMAIN, message))


def cosignature_message(timestamp: int, text: bytes) -> bytes:
    """What a cosignature/v1 signs: ``cosignature/v1\\ntime <T>\\n`` then the note text."""
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def cosign_note(text: str, name: str, seed: bytes, timestamp: int) -> NoteSignature:
    """A tlog-cosignature/v1 (type 0x04) of checkpoint `text` at POSIX time `timestamp` (> 0)."""
    from .keys import public_key

    message = _check_signable(text)
    if type(timestamp) is not int or not 0 < timestamp <= _MAX_TIMESTAMP:
        raise InvalidInput("timestamp", f"expected POSIX seconds in 1..2^63-1, got {timestamp!r}")
    key = VerifierKey.of(name, public_key(seed), SIG_COSIGNATURE_V1)
    sig = sign(seed, _NO_DOMAIN, cosignature_message(timestamp, message))
    return NoteSignature(name=name, key_id=key.key_id, signature=timestamp.to_bytes(8, "big") + sig)


def cosignature_timestamp(signature: NoteSignature) -> int:
    """The POSIX time a type 0x04 cosignature carries (its first 8 bytes)."""
    if len(signature.signature) != 8 + 64:
        raise InvalidInput("cosignature", f"expected 72 bytes (time and signature), got {len(signature.signature)}")
    return int.from_bytes(signature.signature[:8], "big")
