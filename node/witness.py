"""A C2SP tlog-witness (c2sp.org/tlog-witness): cosign other ledgers'
checkpoints after checking they extend the last one cosigned.

Theory of operation
-------------------
A node configured with ``[witness]`` in node.toml witnesses the logs listed
there, each an origin with its verifier keys and how many of them must sign
(default: a strict majority). Its submission and monitoring prefix is the
node's API URL:

``POST /add-checkpoint`` takes the spec's body::

    old <size>\\n
    <base64 consistency proof hash>\\n      (0 to 63 lines)
    \\n
    <the checkpoint, a signed note>

and answers, in the spec's order of checks:

===== ===============================================================================
400   the body is not that shape (``field`` says which part), or old > checkpoint size
404   the origin is not one this witness is configured for
403   no signature of a trusted key, fewer than the required number, or a trusted
      key's signature that does not verify
409   old size != the size of the latest checkpoint cosigned for the origin (0 if
      none): the body is that size and a newline, ``Content-Type: text/x.tlog.size``
422   a size-0 checkpoint whose root is not the empty tree's; a proof given with old
      size 0; a consistency proof that does not verify; same size, another root
503   the witness's own disk refused the new state (``StoreWriteError``): nothing is
      cosigned, the state stays as it was, ``Retry-After``; ``on_write_error`` hears of
      it (the runtime stops the node, as for any store write it cannot make)
200   the cosignature line(s): ``— <witness name> <base64(key ID || time || sig)>\\n``,
      a tlog-cosignature/v1 (type 0x04) over the checkpoint at the current time
===== ===============================================================================

``GET /<lowercase hex SHA-256 of the origin>/checkpoint`` serves the latest
cosigned checkpoint: its text, the log signatures the witness verified, and
its own cosignature (404 if it never cosigned one for that origin).

**State.** One record per origin in the witness's own LevelDB
(``data_dir/witness``), key ``s/<sha256(origin)>``, value canonical
``{origin, size, root (32 bytes), time, note (the cosigned note)}``. Checking
the old size and writing the new record happen under one lock, and the write
is one fsynced batch before the answer goes out, so two racing requests cannot
roll the state back (the race the spec describes), a crash after answering
never loses the cosigned state, and a refused request writes nothing. A
refused checkpoint that is validly signed but inconsistent is logged in full
(at ERROR) as evidence of a fork; the state does not change.

The cosigner key is the witness's own (``witness.key_file``), not the node key:
signed-note asks that one key not serve two signature types.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ledger.checkpoint import Checkpoint, origin_hash
from ledger.encoding import canonical, decode_canonical
from ledger.errors import InvalidInput, MinutebookError, ProofFailed
from ledger.keys import public_key
from ledger.merkle import EMPTY_ROOT, verify_consistency
from ledger.signed_note import SIG_COSIGNATURE_V1, Note, VerifierKey, b64std_decode, cosign_note, open_note
from ledger.store import StoreWriteError

from .config import WitnessedLog
from .errors import WitnessConflict, WitnessRefused, WitnessUnavailable

__all__ = ["Witness", "parse_add_checkpoint", "origin_hash", "MAX_BODY_BYTES", "MAX_PROOF_LINES",
           "SIZE_MEDIA_TYPE"]

log = logging.getLogger("minutebook.witness")

MAX_BODY_BYTES = 64 << 10  # a checkpoint with 100 signatures and a 63-hash proof fits well
MAX_PROOF_LINES = 63  # tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")
_P_STATE = b"s/"


def _state_key(origin: str) -> bytes:
    return _P_STATE + bytes.fromhex(origin_hash(origin))


def _bad(message: str, field: str) -> WitnessRefused:
    return WitnessRefused(400, "invalid_input", message, field)


def parse_add_checkpoint(body: bytes) -> tuple[int, list[bytes], bytes]:
    """Split an add-checkpoint body into (old size, proof hashes, checkpoint note bytes).
    Raises WitnessRefused(400) naming the part that is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise WitnessRefused(413, "too_large", f"the body is {len(body)} bytes; at most {MAX_BODY_BYTES}", "body")
    first, sep, rest = body.partition(b"\n")
    if not sep:
        raise _bad("expected 'old <size>' and a newline first", "old")
    match = _OLD_LINE.fullmatch(first.decode("ascii", errors="replace"))
    if match is None:
        raise _bad(f"the first line is 'old <decimal size without leading zeros>', got {first[:40]!r}", "old")
    old = int(match.group(1))
    proof: list[bytes] = []
    while True:
        line, sep, rest = rest.partition(b"\n")
        if not sep:
            raise _bad("the consistency proof lines end with an empty line", "proof")
        if not line:
            break
        if len(proof) == MAX_PROOF_LINES:
            raise _bad(f"more than {MAX_PROOF_LINES} consistency proof lines", "proof")
        try:
            digest = b64std_decode(line.decode("ascii", errors="replace"), f"proof[{len(proof)}]")
        except InvalidInput as exc:
            raise _bad(exc.message, exc.field) from None
        if len(digest) != 32:
            raise _bad(f"a proof line encodes one 32-byte hash, got {len(digest)} bytes", f"proof[{len(proof)}]")
        proof.append(digest)
    return old, proof, rest


@dataclass(frozen=True, slots=True)
class _State:
    origin: str
    size: int
    root: bytes
    time: int
    note: bytes


class Witness:
    """The witness of the module docstring over `store` (a Store of its own)."""

    def __init__(self, name: str, seed: bytes, logs: Iterable[WitnessedLog], store: Any, *,
                 clock: Callable[[], float] = time.time,
                 on_write_error: Callable[[StoreWriteError], None] | None = None) -> None:
        self.key = VerifierKey.of(name, public_key(seed), SIG_COSIGNATURE_V1)
        self._seed = seed
        self.logs = {}
        for entry in logs:
            if entry.origin in self.logs:
                raise InvalidInput("witness.logs", f"origin {entry.origin!r} is listed twice")
            self.logs[entry.origin] = entry
        self.store = store
        self.clock = clock
        self.on_write_error = on_write_error  # called (on the request's thread) when the store refuses a write
        self._lock = threading.Lock()  # Invariant: held from reading a log's state to writing its new one

    # -- state -------------------------------------------------------------------------

    def _state(self, origin: str) -> _State | None:
        raw = self.store.get(_state_key(origin))
        if raw is None:
            return None
        obj = decode_canonical(raw)
        return _State(origin=obj["origin"], size=obj["size"], root=obj["root"], time=obj["time"], note=obj["note"])

    def latest(self, origin: str) -> bytes | None:
        """The latest cosigned checkpoint note of `origin`, or None."""
        state = self._state(origin)
        return None if state is None else state.note

    def latest_by_hash(self, digest_hex: str) -> bytes | None:
        for origin in self.logs:
            if origin_hash(origin) == digest_hex:
                return self.latest(origin)
        return None

    def state(self, origin: str) -> tuple[int, bytes] | None:
        """(size, root) of the latest checkpoint cosigned for `origin`, or None."""
        state = self._state(origin)
        return None if state is None else (state.size, state.root)

    # -- add-checkpoint ------------------------------------------------------------------

    def add_checkpoint(self, body: bytes) -> bytes:
        """The add-checkpoint call: the cosignature line(s), or WitnessRefused
        with the spec's status (module docstring). Writes only on success."""
        old, proof, raw_note = parse_add_checkpoint(body)
        try:
            note = Note.parse(raw_note, "checkpoint")
            checkpoint = Checkpoint.from_text(note.text, "checkpoint")
        except InvalidInput as exc:
            raise _bad(exc.message, exc.field) from None
        entry = self.logs.get(checkpoint.origin)
        if entry is None:
            raise WitnessRefused(404, "unknown_origin", f"this witness does not witness {checkpoint.origin!r}",
                                 "checkpoint.origin")
        try:
            opened = open_note(note, entry.keys, "checkpoint")
        except MinutebookError as exc:  # a trusted key's bad signature (its line named), or none at all
            raise WitnessRefused(403, "not_trusted", exc.message, getattr(exc, "field", None) or "checkpoint") \
                from None
        if len(opened.verified) < entry.signatures:
            raise WitnessRefused(403, "not_trusted", f"{len(opened.verified)} trusted signature(s); this witness "
                                                     f"requires {entry.signatures} for {entry.origin!r}",
                                 "checkpoint.signatures")
        if old > checkpoint.size:
            raise _bad(f"old size {old} is larger than the checkpoint's size {checkpoint.size}", "old")
        with self._lock:
            state = self._state(entry.origin)
            known = 0 if state is None else state.size
            if old != known:
                raise WitnessConflict(known, old)
            self._check_consistency(entry.origin, checkpoint, old, proof, state, note)
            timestamp = max(1, int(self.clock()))
            cosignature = cosign_note(note.text, self.key.name, self._seed, timestamp)
            verified = tuple(sig for _, sig in opened.verified)
            stored = Note(text=note.text, signatures=(*verified, cosignature)).to_bytes()
            try:
                self.store.write({_state_key(entry.origin): canonical({
                    "note": stored, "origin": entry.origin, "root": checkpoint.root_hash, "size": checkpoint.size,
                    "time": timestamp})})
            except StoreWriteError as exc:  # nothing of the batch was written: the state is the old one
                log.error("cannot store the cosigned state of %s (size %d): %s", entry.origin, checkpoint.size, exc)
                if self.on_write_error is not None:
                    self.on_write_error(exc)
                raise WitnessUnavailable() from None
        return cosignature.line.encode("utf-8")

    def _check_consistency(self, origin: str, checkpoint: Checkpoint, old: int, proof: list[bytes],
                           state: _State | None, note: Note) -> None:
        def inconsistent(why: str) -> WitnessRefused:
            if state is not None:
                log.error("INCONSISTENT checkpoint for %s refused (%s); cosigned before:\n%s\nsubmitted:\n%s",
                          origin, why, state.note.decode("utf-8", "replace"), note.to_bytes().decode("utf-8"))
            return WitnessRefused(422, "inconsistent", why, "proof")

        if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
            raise WitnessRefused(422, "inconsistent", "a checkpoint of size 0 must carry the empty tree's root "
                                                      "(SHA-256 of the empty string)", "checkpoint.root_hash")
        if old == 0:
            if proof:
                raise WitnessRefused(422, "inconsistent", "no consistency proof is given from size 0", "proof")
            return
        assert state is not None  # old == known > 0
        if old == checkpoint.size:
            if checkpoint.root_hash != state.root:
                raise inconsistent(f"size {old} was cosigned with another root hash")
            if proof:
                raise inconsistent("no consistency proof is given between equal sizes")
            return
        try:
            verify_consistency(old, checkpoint.size, state.root, checkpoint.root_hash, proof)
        except ProofFailed as exc:
            raise inconsistent(f"the consistency proof from {old} to {checkpoint.size} does not verify: "
                               f"{exc.message}") from None
