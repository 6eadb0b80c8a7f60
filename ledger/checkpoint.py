"""C2SP checkpoints of the document log (c2sp.org/tlog-checkpoint@v1.0.0),
signed by the voters and cosigned by witnesses.

Theory of operation
-------------------
Every block's tree head is also a checkpoint: a signed note (ledger/signed_note.py)
whose text is exactly three lines::

    <origin>
    <tree size: the header's log_size, ASCII decimal, no leading zeros>
    <root hash: base64 (RFC 4648 §4) of the header's 32-byte log_root>

(no extension lines). The tree is the RFC 9162 document log of accepted
envelopes, so RFC 6962 / 9162 consistency proofs join any two checkpoints of
one ledger, and tools of the transparency-log ecosystem (witnesses, monitors)
read them unchanged.

**Origin** (:func:`checkpoint_origin`)::

    minutebook/<chain_id, escaped>/<first 16 hex digits of the genesis hash>

where escaping replaces each ``%``, ``+``, ASCII control character and Unicode
space in ``chain_id`` by ``%XX`` of its UTF-8 bytes (uppercase hex). The
genesis hash makes two ledgers that share a ``chain_id`` (every fresh devnet,
say) distinct logs to a witness. Every voter signs with **key name = origin**
and its node key (type 0x01), so its verifier key is
``<origin>+<key ID>+<base64(0x01 || node public key)>``; voters are told apart
by their key IDs.

**Who signs.** The voters that certify block ``h`` (``Ledger.voters_at(h)``)
each sign the checkpoint of ``h`` beside their block signature; the node
runtime exchanges both in one ``block_sig`` frame (node/certifier.py). A
checkpoint is *signed* once a strict majority of those voters' signatures
are stored, which is what :func:`verify_checkpoint` asks of a verifier by
default. Heights whose blocks leave the log as it was (all documents
rejected) have the same checkpoint text as the block before, hence the same
(deterministic Ed25519) signatures.

**Cosignatures** a witness returned (type 0x04) are kept per tree size and
appended to the checkpoint's note after the voters' lines.

Storage keys, in the ledger's store beside ledger/ledger.py's own
(``be8``/``be4`` big-endian integers)::

    k/<be8 height><node_id>                  a voter's verified signature (64 bytes) of
                                             block `height`'s checkpoint text
    w/<be8 tree size><key name>\\0<be4 key ID> a witness's verified cosignature of the
                                             checkpoint of that size: be8 time || 64-byte
                                             signature (the latest one per key)
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any, Iterable

from .blocks import Header, quorum_size
from .errors import InvalidInput, MalformedNote, ProofFailed
from .keys import verify
from .merkle import EMPTY_ROOT
from .signed_note import (SIG_COSIGNATURE_V1, SIG_ED25519, WHITE_SPACE, Note, NoteSignature, OpenedNote,
                          VerifierKey, b64std, b64std_decode, open_note, sign_note)

__all__ = [
    "Checkpoint",
    "checkpoint_origin",
    "origin_hash",
    "witnessed_path",
    "CheckpointLog",
    "VerifiedCheckpoint",
    "verify_checkpoint",
]

_be8 = struct.Struct(">Q")
_P_SIGS = b"k/"
_P_COSIGS = b"w/"
_MAX_SIZE = (1 << 64) - 1


def origin_hash(origin: str) -> str:
    """tlog-witness's origin hash: the lowercase hex SHA-256 of the origin."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def witnessed_path(origin: str) -> str:
    """A witness's monitoring path for `origin` (tlog-witness): ``/<origin hash>/checkpoint``."""
    return f"/{origin_hash(origin)}/checkpoint"


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A checkpoint's text: origin, tree size, root hash, and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin or "\n" in self.origin:
            raise InvalidInput("checkpoint.origin", "expected a non-empty line")
        if type(self.size) is not int or not 0 <= self.size <= _MAX_SIZE:
            raise InvalidInput("checkpoint.size", f"expected an int in 0..2^64-1, got {self.size!r}")
        if type(self.root_hash) is not bytes or len(self.root_hash) != 32:
            raise InvalidInput("checkpoint.root_hash", "expected a 32-byte SHA-256 root")
        for i, line in enumerate(self.extensions):
            if not isinstance(line, str) or not line or "\n" in line:
                raise InvalidInput(f"checkpoint.extensions[{i}]", "an extension line is non-empty")

    @property
    def text(self) -> str:
        """The note text: three lines (plus extensions), each ending in a newline."""
        lines = [self.origin, str(self.size), b64std(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @property
    def body(self) -> bytes:
        return self.text.encode("utf-8")

    @classmethod
    def of(cls, origin: str, header: Header) -> "Checkpoint":
        return cls(origin=origin, size=header.log_size, root_hash=header.log_root)

    @classmethod
    def from_text(cls, text: str, field: str = "checkpoint") -> "Checkpoint":
        """Parse a note text (tlog-checkpoint §"Note text"); MalformedNote names the line."""
        if not text.endswith("\n"):
            raise MalformedNote(field, "the checkpoint text ends in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedNote(field, f"expected origin, tree size and root hash lines, got {len(lines)} line(s)")
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise MalformedNote(f"{field}.origin", "the origin line is empty")
        if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise MalformedNote(f"{field}.size", f"expected a decimal tree size without leading zeros, "
                                                 f"got {size_text[:40]!r}")
        size = int(size_text)
        if size > _MAX_SIZE:
            raise MalformedNote(f"{field}.size", "tree size over 2^64-1")
        try:
            root = b64std_decode(root_text, f"{field}.root_hash")
        except InvalidInput as exc:
            raise MalformedNote(exc.field, exc.rule) from None
        if len(root) != 32:
            raise MalformedNote(f"{field}.root_hash", f"expected a 32-byte SHA-256 root, got {len(root)} bytes")
        for i, line in enumerate(extensions):
            if not line:
                raise MalformedNote(f"{field}.extensions[{i}]", "an extension line is non-empty")
        return cls(origin=origin, size=size, root_hash=root, extensions=tuple(extensions))


def _escape_origin_part(text: str) -> str:
    out = []
    for c in text:
        if c in "%+" or c < " " or c == "\x7f" or c in WHITE_SPACE:
            out.append("".join(f"%{b:02X}" for b in c.encode("utf-8")))
        else:
            out.append(c)
    return "".join(out)


def checkpoint_origin(genesis: Any) -> str:
    """The ledger's checkpoint origin and voters' key name (module docstring)."""
    chain_id = genesis.chain_id
    digest = genesis.genesis_hash
    if isinstance(digest, str):
        digest = bytes.fromhex(digest)
    return f"minutebook/{_escape_origin_part(chain_id)}/{bytes(digest).hex()[:16]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedCheckpoint:
    """A checkpoint whose note verified: the keys counted and the cosigners' keys."""

    checkpoint: Checkpoint
    note: Note
    signers: tuple[VerifierKey, ...]  # the log keys whose signatures verified
    cosigners: tuple[VerifierKey, ...]  # the witness keys whose cosignatures verified


def verify_checkpoint(note: bytes | str | Note, keys: Iterable[VerifierKey], *, origin: str | None = None,
                      required: int | None = None, witnesses: Iterable[VerifierKey] = (),
                      field: str = "checkpoint") -> VerifiedCheckpoint:
    """Verify a checkpoint note: at least `required` of the log `keys` (default
    a strict majority of them) signed it, its origin is `origin` if given, and
    every key in `witnesses` cosigned it. Raises ProofFailed(`field`, ...) or
    MalformedNote."""
    keys = tuple(keys)
    witnesses = tuple(witnesses)
    if required is None:
        required = quorum_size(len(keys))
    parsed = note if isinstance(note, Note) else Note.parse(note, field)
    checkpoint = Checkpoint.from_text(parsed.text, field)
    if origin is not None and checkpoint.origin != origin:
        raise ProofFailed(field, f"origin is {checkpoint.origin!r}, expected {origin!r}")
    if any(k.key_type != SIG_ED25519 for k in keys):
        raise InvalidInput("keys", "log keys are Ed25519 note keys (type 0x01)")
    if any(k.key_type != SIG_COSIGNATURE_V1 for k in witnesses):
        raise InvalidInput("witnesses", "witness keys are cosignature keys (type 0x04)")
    try:
        opened: OpenedNote = open_note(parsed, keys + witnesses, "the checkpoint")
    except ProofFailed as exc:
        raise ProofFailed(field, exc.message.removeprefix(f"{exc.check}: ")) from None
    signers = tuple(k for k, _ in opened.verified if k.key_type == SIG_ED25519)
    cosigners = tuple(k for k, _ in opened.verified if k.key_type == SIG_COSIGNATURE_V1)
    if len(signers) < required:
        raise ProofFailed(field, f"{len(signers)} of {len(keys)} log keys signed; {required} are required")
    missing = [w.text for w in witnesses if w not in cosigners]
    if missing:
        raise ProofFailed(field, f"no cosignature from witness {', '.join(missing)}")
    return VerifiedCheckpoint(checkpoint=checkpoint, note=parsed, signers=signers, cosigners=cosigners)


class CheckpointLog:
    """The checkpoints of one ledger's blocks, with the voters' signatures and
    the witnesses' cosignatures this node keeps (module docstring)."""

    # How far below the head latest_signed() looks for a signed checkpoint.
    SCAN_LIMIT = 1024

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.origin = checkpoint_origin(ledger.genesis)
        self._latest = 0  # Invariant: 0 or a height whose checkpoint is signed

    # -- texts and keys ------------------------------------------------------------

    def checkpoint(self, height: int) -> Checkpoint:
        return Checkpoint.of(self.origin, self.ledger.header(height))

    def verifier_key(self, public_key: bytes) -> VerifierKey:
        """The note verifier key of a node key in this ledger (name = origin, type 0x01)."""
        return VerifierKey.of(self.origin, public_key, SIG_ED25519)

    def voter_keys(self, height: int) -> dict[str, VerifierKey]:
        """The verifier keys of the voters that sign block `height`'s checkpoint."""
        return {node: self.verifier_key(key) for node, key in sorted(self.ledger.voters_at(height).items())}

    # -- voters' signatures -------------------------------------------------------------

    def sign(self, height: int, seed: bytes) -> bytes:
        """This node's signature (64 bytes) of block `height`'s checkpoint text."""
        return sign_note(self.checkpoint(height).text, self.origin, seed).signature

    def signature_changes(self, height: int, node_id: str, sig: bytes) -> dict[bytes, bytes] | None:
        """The store write that keeps `sig` ({} if it is kept already), or None
        if it is not a voter's valid signature of block `height`'s checkpoint.
        NotFound for a block not applied. (The certifier writes it in one batch
        with the same voter's block signature, Ledger.add_block_signature's `also`.)"""
        body = self.checkpoint(height).body
        key = self.ledger.voters_at(height).get(node_id)
        if key is None or not isinstance(sig, bytes) or not verify(key, b"", body, sig):
            return None
        db_key = _P_SIGS + _be8.pack(height) + node_id.encode()
        return {} if self.store.get(db_key) == sig else {db_key: sig}

    def add_signature(self, height: int, node_id: str, sig: bytes) -> bool:
        """Store `sig` if it is a voter's valid signature of block `height`'s
        checkpoint; return whether it was. NotFound for a block not applied."""
        changes = self.signature_changes(height, node_id, sig)
        if changes:
            self.store.write(changes)
        return changes is not None

    def add_signatures(self, height: int, pairs: "list[tuple[str, bytes]]") -> int:
        """Keep every valid (node id, signature) of block `height`'s checkpoint in
        one batch; return how many were valid."""
        changes: dict[bytes, bytes] = {}
        valid = 0
        for node_id, sig in pairs:
            found = self.signature_changes(height, node_id, sig)
            if found is not None:
                valid += 1
                changes.update(found)
        if changes:
            self.store.write(changes)
        return valid

    def signatures(self, height: int) -> dict[str, bytes]:
        """The stored signatures of block `height`'s checkpoint: node id -> signature."""
        prefix = _P_SIGS + _be8.pack(height)
        return {key[len(prefix):].decode(): value for key, value in self.store.scan(prefix)}

    def is_signed(self, height: int) -> bool:
        """Whether a strict majority of the voters at `height` signed its checkpoint."""
        voters = self.ledger.voters_at(height)
        return len(set(self.signatures(height)) & set(voters)) >= quorum_size(len(voters))

    def latest_signed(self) -> int:
        """The highest height whose checkpoint is signed (0 if none is, looking
        at most SCAN_LIMIT heights below the head)."""
        height = self.ledger.height
        floor = max(self._latest, height - self.SCAN_LIMIT)
        while height > floor:
            if self.is_signed(height):
                self._latest = height
                return height
            height -= 1
        return self._latest

    def note(self, height: int, *, cosigned: bool = True) -> bytes:
        """The signed note of block `height`'s checkpoint: the voters' lines
        (sorted by node id), then (if `cosigned`) the kept cosignatures of its tree size."""
        checkpoint = self.checkpoint(height)
        voters = self.voter_keys(height)
        lines = [NoteSignature(name=self.origin, key_id=voters[node].key_id, signature=sig)
                 for node, sig in sorted(self.signatures(height).items()) if node in voters]
        if not lines:
            raise ProofFailed("checkpoint", f"the checkpoint of block {height} carries no signature yet")
        cosignatures = self.cosignatures(checkpoint.size) if cosigned else []
        return Note(text=checkpoint.text, signatures=(*lines, *cosignatures)).to_bytes()

    # -- witnesses' cosignatures -----------------------------------------------------------

    def add_cosignature(self, size: int, root_hash: bytes, cosignature: NoteSignature, witness: VerifierKey) -> bool:
        """Keep a witness's cosignature of the checkpoint (size, root_hash) of
        this ledger if it verifies under `witness`; return whether it did."""
        if size == 0 and root_hash != EMPTY_ROOT:
            return False
        text = Checkpoint(origin=self.origin, size=size, root_hash=root_hash).body
        if witness.key_type != SIG_COSIGNATURE_V1 or not cosignature.matches(witness) \
                or not witness.verify(text, cosignature.signature):
            return False
        db_key = _P_COSIGS + _be8.pack(size) + witness.name.encode() + b"\0" + witness.key_id.to_bytes(4, "big")
        self.store.write({db_key: cosignature.signature})
        return True

    def cosignatures(self, size: int) -> list[NoteSignature]:
        """The cosignatures kept for the checkpoint of tree `size`, by key name then ID."""
        prefix = _P_COSIGS + _be8.pack(size)
        out = []
        for key, value in self.store.scan(prefix):
            # name, NUL, then the 4-byte key ID, which may itself hold a zero byte: split by position
            rest = key[len(prefix):]
            name, raw_id = rest[:-5], rest[-4:]
            out.append(NoteSignature(name=name.decode(), key_id=int.from_bytes(raw_id, "big"), signature=value))
        return out
