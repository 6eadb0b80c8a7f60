"""The outbox: signed envelopes kept on disk until their receipt is held.

Why it exists. A document's id is the hash of its signed bytes, so sending
the *same bytes* twice can never record it twice; signing the same minutes
again makes a new nonce and ``created_at``, a new id, and a second record.
A secretary on a poor connection whose submission timed out will run the
command again. So whatever a client signs is kept here first (fsynced before
any byte goes to a node), and every later attempt, by ``minutebook submit``
run again or by ``minutebook outbox push``, re-sends those bytes.

Theory of operation. An entry is written ``pending`` when its envelope is
signed. Each answer from a node is settled by the same rules, whether it came
for one envelope (:func:`deliver`) or as one result of a batch
(:func:`deliver_batch`, ``POST /v1/documents:batch``):

- a receipt (``?wait=committed``, or 409 ``already_committed``, which
  carries the existing receipt) makes it **committed**: the receipt is
  written to ``receipts/`` first, then the entry moves to ``committed/``;
- a definitive refusal (a 4xx other than 404, 408, 409
  ``already_committed`` and 429: bad input, bad signature, not permitted,
  a duplicate record, rejected by the registry, too large) makes it
  **refused**, with the node's reason and field;
- anything else (the node unreachable, no leader after the retries, 502,
  504, a 5xx, or a 202 ``pending`` without a receipt yet) leaves it
  **pending**, with the attempt counted and the last error kept. It is sent
  again next time; that is always safe.

Intent. ``submit FILE`` finds its earlier envelope by an *intent*: the hash
of the document as read from the file (type, org, body, refs and whatever
else it gives) together with the signers' public keys. Same file, same keys:
same intent, same envelope re-sent. A file edited while an envelope signed
from it is pending and no node has acknowledged it yet is refused
(:meth:`Outbox.unsettled_from`): the first one may yet be committed, and a
second version could record the act twice; ``outbox push`` settles the first
(amend it afterwards if it needs a correction), ``outbox drop`` forgets it if
it surely never left. Once a node answered 202 for it, it is on its way into
the ledger, and a new version of the file is a new document like any other
(the ledger refuses a second record of the same meeting by itself).

Layout (every file written with :func:`ledger.files.write_atomically`)::

    OUTBOX/pending/<doc_id>.json     entries not yet settled
    OUTBOX/committed/<doc_id>.json   entries whose receipt is held
    OUTBOX/refused/<doc_id>.json     entries a node refused, with the reason
    OUTBOX/receipts/<doc_id>.json    the receipts (as `minutebook receipt` writes them)

An entry file is JSON::

    {"doc_id", "envelope": "<base64url canonical envelope>", "type", "org",
     "signers": [member ids], "signed_at": unix_ms, "seq": int (signing order),
     "source": "path of the file it was signed from" | null, "intent": "<hex>",
     "attempts": int, "last_error": str | null, "sent": bool,
     # committed: "receipt": "receipts/<doc_id>.json", "height", "leaf_index"
     # refused:   "error": code, "reason": message, "field": str | null}

The directory, unless given: ``$MINUTEBOOK_OUTBOX``, else ``minutebook-outbox/``
beside the file signed from (the current directory for standard input).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ledger.encoding import canonical, normalize
from ledger.errors import InvalidInput
from ledger.files import remove_durably, write_atomically
from ledger.jsonfmt import b64d, b64e

from . import errors as api_errors

__all__ = ["Outbox", "OutboxEntry", "Delivery", "deliver", "deliver_batch", "intent_of", "outbox_dir", "is_refusal", "refuses",
           "PENDING", "COMMITTED", "REFUSED", "DEFAULT_DIR_NAME", "ENV_VAR"]

PENDING, COMMITTED, REFUSED = "pending", "committed", "refused"
STATES = (PENDING, COMMITTED, REFUSED)
DEFAULT_DIR_NAME = "minutebook-outbox"
ENV_VAR = "MINUTEBOOK_OUTBOX"
_INTENT_DOMAIN = b"minutebook/outbox-intent/v1\0"
# 4xx answers that say nothing about the document itself: not a refusal.
_NOT_A_VERDICT = frozenset({404, 408, 429})


def outbox_dir(option: str | os.PathLike | None, source: str | None) -> Path:
    """The outbox folder: `option`, else $MINUTEBOOK_OUTBOX, else beside `source` (module doc)."""
    if option:
        return Path(option)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if source and source != "-":
        return Path(source).resolve().parent / DEFAULT_DIR_NAME
    return Path.cwd() / DEFAULT_DIR_NAME


def intent_of(doc: dict, public_keys: Iterable[bytes]) -> str:
    """The hex intent of signing `doc` (as read, before v/nonce/created_at are filled) with these keys."""
    obj = {"doc": normalize(dict(doc)), "keys": sorted(bytes(k) for k in public_keys)}
    return hashlib.sha256(_INTENT_DOMAIN + canonical(obj)).hexdigest()


def refuses(status: object, code: object) -> bool:
    """True iff an answer with this HTTP status and error code is a verdict on the
    document itself (module doc), for a single submission or one result of a batch."""
    if code == "already_committed" or not isinstance(status, int):
        return False
    return 400 <= status < 500 and status not in _NOT_A_VERDICT


def is_refusal(exc: api_errors.ApiError) -> bool:
    return refuses(exc.status, exc.code)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxEntry:
    """One kept envelope; `state` is the folder it lives in."""

    doc_id: str
    envelope: bytes
    type: str
    org: str
    signers: tuple[str, ...]
    signed_at: int
    seq: int
    intent: str
    source: str | None = None
    state: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    sent: bool = False
    extra: dict = field(default_factory=dict)  # committed: receipt, height, leaf_index; refused: error, reason, field

    @property
    def reason(self) -> str | None:
        return self.extra.get("reason")

    def to_json(self) -> dict:
        return {"doc_id": self.doc_id, "envelope": b64e(self.envelope), "type": self.type, "org": self.org,
                "signers": list(self.signers), "signed_at": self.signed_at, "seq": self.seq, "intent": self.intent,
                "source": self.source, "attempts": self.attempts, "last_error": self.last_error, "sent": self.sent,
                **self.extra}

    @classmethod
    def from_json(cls, obj: Any, state: str, where: str) -> "OutboxEntry":
        if not isinstance(obj, dict):
            raise InvalidInput(where, "not an outbox entry (expected a JSON object)")
        try:
            entry = cls(doc_id=str(obj["doc_id"]), envelope=b64d(obj["envelope"], f"{where}: envelope"),
                        type=str(obj["type"]), org=str(obj["org"]), signers=tuple(obj["signers"]),
                        signed_at=int(obj["signed_at"]), seq=int(obj["seq"]), intent=str(obj["intent"]),
                        source=obj.get("source"), state=state, attempts=int(obj.get("attempts", 0)),
                        last_error=obj.get("last_error"), sent=bool(obj.get("sent", False)),
                        extra={k: v for k, v in obj.items() if k in _EXTRA_FIELDS})
        except KeyError as exc:
            raise InvalidInput(where, f"not an outbox entry: missing {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise InvalidInput(where, f"not an outbox entry: {exc}") from None
        return entry


_EXTRA_FIELDS = ("receipt", "height", "leaf_index", "error", "reason", "field")


class Outbox:
    """A folder of kept envelopes (module doc). Not for concurrent writers of one entry."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # -- reading --

    def _file(self, state: str, doc_id: str) -> Path:
        return self.path / state / f"{doc_id}.json"

    def receipt_path(self, doc_id: str) -> Path:
        return self.path / "receipts" / f"{doc_id}.json"

    def _read(self, file: Path, state: str) -> OutboxEntry:
        try:
            obj = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput(str(file), f"cannot read outbox entry: {exc}") from None
        return OutboxEntry.from_json(obj, state, str(file))

    def entries(self, *states: str) -> list[OutboxEntry]:
        """Entries in the given states (default: all), in signing order.

        An entry found in two folders (a crash between writing the new state and
        removing the old) counts in the settled one."""
        wanted = states or STATES
        seen: dict[str, OutboxEntry] = {}
        for state in (COMMITTED, REFUSED, PENDING):
            folder = self.path / state
            if not folder.is_dir():
                continue
            for file in sorted(folder.glob("*.json")):
                if file.stem not in seen:
                    seen[file.stem] = self._read(file, state)
        return sorted((e for e in seen.values() if e.state in wanted), key=lambda e: (e.seq, e.doc_id))

    def get(self, doc_id: str) -> OutboxEntry | None:
        for state in (COMMITTED, REFUSED, PENDING):
            file = self._file(state, doc_id)
            if file.exists():
                return self._read(file, state)
        return None

    def find(self, intent: str) -> OutboxEntry | None:
        """The entry signed for `intent`, if any (a committed one first)."""
        for entry in self.entries():
            if entry.intent == intent:
                return entry
        return None

    def unsettled_from(self, source: str, intent: str) -> list[OutboxEntry]:
        """Entries signed from `source` for another intent that no node has acknowledged yet
        (module doc: Intent). One a node answered 202 for is on its way into the ledger:
        a new version of the file is then a new document, as any other."""
        return [e for e in self.entries(PENDING) if e.source == source and e.intent != intent and not e.sent]

    # -- writing --

    def _write(self, entry: OutboxEntry) -> None:
        folder = self.path / entry.state
        folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps(entry.to_json(), indent=2, ensure_ascii=False) + "\n"
        write_atomically(self._file(entry.state, entry.doc_id), data.encode("utf-8"))

    def keep(self, envelope: bytes, *, intent: str, source: str | None = None) -> OutboxEntry:
        """Store freshly signed envelope bytes (or a sealed submission: envelope and boxes) as
        pending; durable when this returns."""
        from ledger.documents import Envelope
        from ledger.sealing import envelope_of

        env = Envelope.from_bytes(envelope_of(envelope))  # a sealed submission is kept whole
        doc = env.doc
        existing = self.get(doc.doc_id)
        if existing is not None:
            return existing
        entry = OutboxEntry(doc_id=doc.doc_id, envelope=bytes(envelope), type=doc.type, org=doc.org,
                            signers=tuple(s.signer for s in env.sigs), signed_at=int(time.time() * 1000),
                            seq=time.time_ns(), intent=intent, source=source)
        self._write(entry)
        return entry

    def _move(self, entry: OutboxEntry, new: OutboxEntry) -> OutboxEntry:
        self._write(new)
        if entry.state != new.state:
            remove_durably(self._file(entry.state, entry.doc_id))
        return new

    def record_attempt(self, entry: OutboxEntry, error: str | None, *, sent: bool = False) -> OutboxEntry:
        """Still pending after an attempt; `sent` once a node said it holds it (202)."""
        new = replace(entry, state=PENDING, attempts=entry.attempts + 1, last_error=error, sent=entry.sent or sent)
        return self._move(entry, new)

    def record_committed(self, entry: OutboxEntry, receipt: dict) -> OutboxEntry:
        """Write the receipt (durably), then move the entry to committed/."""
        path = self.receipt_path(entry.doc_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, (json.dumps(receipt, indent=2) + "\n").encode("utf-8"))
        block = receipt.get("block") if isinstance(receipt.get("block"), dict) else {}
        extra = {"receipt": f"receipts/{entry.doc_id}.json", "height": block.get("height"),
                 "leaf_index": receipt.get("leaf_index")}
        new = replace(entry, state=COMMITTED, attempts=entry.attempts + 1, last_error=None, sent=True, extra=extra)
        return self._move(entry, new)

    def record_refused(self, entry: OutboxEntry, exc: api_errors.ApiError) -> OutboxEntry:
        extra = {"error": exc.code, "reason": exc.message, "field": exc.field}
        new = replace(entry, state=REFUSED, attempts=entry.attempts + 1, last_error=None, extra=extra)
        return self._move(entry, new)

    def drop(self, doc_id: str) -> OutboxEntry:
        """Forget a pending entry (the caller is sure it never reached a node)."""
        entry = self.get(doc_id)
        if entry is None:
            raise InvalidInput("doc_id", f"{doc_id} is not in the outbox {self.path}")
        if entry.state != PENDING:
            raise InvalidInput("doc_id", f"{doc_id} is {entry.state}, not pending; only pending entries are dropped")
        remove_durably(self._file(PENDING, doc_id))
        return entry

    def __iter__(self) -> Iterator[OutboxEntry]:
        return iter(self.entries())


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one attempt came to. `outcome`: committed | already_committed | sent | refused | unsettled."""

    outcome: str
    entry: OutboxEntry
    receipt: dict | None = None
    error: Exception | None = None

    @property
    def settled(self) -> bool:
        return self.outcome in ("committed", "already_committed", "refused")


def deliver(outbox: Outbox, entry: OutboxEntry, send: Callable[[bytes], dict]) -> Delivery:
    """Send `entry`'s bytes with `send` (e.g. ``lambda b: client.submit(b, wait=True)``) and
    record the answer in `outbox` (module doc). Errors that leave it pending are returned,
    not raised, in ``Delivery.error``; a bug still raises."""
    try:
        answer: dict | Exception = send(entry.envelope)
    except (api_errors.ApiError, api_errors.ConnectionFailed) as exc:
        answer = exc
    return _settle(outbox, entry, answer)


def deliver_batch(outbox: Outbox, entries: list[OutboxEntry],
                  send_batch: Callable[[list[bytes]], list[dict]]) -> list[Delivery]:
    """Send the entries' bytes in one batch with `send_batch` (e.g. ``lambda b:
    client.submit_batch(b, wait=True)``, one result per envelope, node/batch.py) and record
    each answer, as :func:`deliver` does. An answer about the batch as a whole that leaves
    the entries pending (unreachable, 503 after the retries) is each one's ``error``; one that
    refuses the batch as a whole (malformed, too large) says nothing of any document in it
    and is raised, recording nothing: send those entries one by one."""
    try:
        results = send_batch([e.envelope for e in entries])
    except api_errors.ApiError as exc:
        if is_refusal(exc):
            raise
        return [_settle(outbox, e, exc) for e in entries]
    except api_errors.ConnectionFailed as exc:
        return [_settle(outbox, e, exc) for e in entries]
    return [_settle(outbox, e, _batch_answer(r)) for e, r in zip(entries, results, strict=True)]


def _batch_answer(result: dict) -> dict | api_errors.ApiError:
    """One result of a batch as a single submission's answer: the result, or the error it names."""
    if result.get("status") != "error":
        return result
    status = result.get("http_status")
    return api_errors.error_from_response(status if isinstance(status, int) else 500, result)


def _settle(outbox: Outbox, entry: OutboxEntry, answer: dict | Exception) -> Delivery:
    """Record one answer for `entry` (module doc): the one place an answer settles an entry."""
    if isinstance(answer, api_errors.ApiError):
        if is_refusal(answer):
            return Delivery("refused", outbox.record_refused(entry, answer), error=answer)
        if answer.code == "already_committed" and isinstance(getattr(answer, "receipt", None), dict):
            return Delivery("already_committed", outbox.record_committed(entry, answer.receipt), answer.receipt)
        return Delivery("unsettled", outbox.record_attempt(entry, _describe(answer)), error=answer)
    if isinstance(answer, Exception):
        return Delivery("unsettled", outbox.record_attempt(entry, str(answer)), error=answer)
    status = answer.get("status")
    receipt = answer.get("receipt")
    if status in ("committed", "already_committed") and isinstance(receipt, dict):
        return Delivery(status, outbox.record_committed(entry, receipt), receipt)
    return Delivery("sent", outbox.record_attempt(entry, None, sent=True))


def _describe(exc: api_errors.ApiError) -> str:
    return f"{exc.message} (HTTP {exc.status} {exc.code})"
