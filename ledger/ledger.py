"""The ledger: applies blocks and answers queries about them.

Theory of operation
-------------------
``apply_block(proposal)`` is the state machine every node runs on each
committed Raft entry carrying a :class:`~ledger.blocks.BlockProposal`. It runs
every envelope through decoding, signature and registry checks again, in
order; a document that fails is kept, flagged ``rejected`` with
``"<error code>: <message>"`` as the reason, identically on every node (also
one whose ``created_at`` is more than ``MAX_CLOCK_SKEW_MS`` after the
block's timestamp: the clock rules of node/clock.py). A
document whose id is already in the ledger *accepted* (earlier, or earlier in
the same block) is rejected as a duplicate; a document that was rejected
before may be proposed again and is checked afresh.

Only **accepted** envelopes become leaves of the document log, in proposal
order; ``tx_root`` is still the root over *all* the block's envelopes. Why:
the block certificate signs the header, and the header holds no statuses, so
the statuses served in a Block object are vouched for by nobody. Were rejected
envelopes leaves too, a lying node could serve a receipt for a rejected
document with its status flipped to accepted, and its inclusion proof would
verify. With accepted-only leaves, inclusion in the certified log is itself
the proof of acceptance (DESIGN.md's receipt check needs no change), while
``tx_root`` keeps the certified header committed to the rejected envelopes
too, so nothing is dropped silently and a replay (``minutebook audit``)
re-derives every status. A rejected envelope is kept by (height, offset in
the block) under ``e/`` so :meth:`Ledger.proposal` rebuilds the exact
proposal for catch-up.

Each node verifies each signature once. ``check_submission`` (the leader's
admission) keeps the envelope it decoded and whose signatures it verified,
keyed by its canonical bytes (bounded); applying a block takes it from there
instead of decoding and verifying the same bytes again. That skips only what
is a pure function of the bytes (canonical form, shape, Ed25519); every
registry rule -- registered and unrevoked keys, roles, transitions -- is
checked again on apply against the state the block meets. Followers, which
admit nothing, verify at apply.

Because the header depends on the registry checks, nobody can predict it
from the proposal and the log alone: catch-up learns a fetched block's header
by staging it, and ``apply_block(proposal, vouch=...)`` shows that header to
the certificate check before anything is written.

Everything the block changes -- envelopes, document records, statuses,
Merkle leaves and subtree hashes, registry state, indexes, the voter set, the
block record, the head pointer and the Raft index applied -- goes into one
:class:`~ledger.store.Overlay` and is committed as one atomic, fsynced batch:
a crash leaves the old block or the new one, never half of one.

Storage keys (besides ``m/`` for the Merkle log and ``r/`` for the registry);
``be8`` is an 8-byte big-endian integer::

    g                                    genesis hash (32 bytes)
    h                                    head: be8 height (absent before block 1)
    x/raft_applied                       be8 Raft index of the last applied block
    x/format                             the storage layout version (STORE_FORMAT); other
                                         versions are refused on open
    b/<be8 height>                       block record: canonical {header, doc_ids
                                         (32 raw bytes per envelope, proposal order;
                                         zeros where no_id), no_id: [offset],
                                         rejected: [[offset, reason]]}; the accepted
                                         envelopes hold leaves log_size - accepted
                                         .. log_size - 1 in order
    c/<be8 height><node_id>              a verified certificate signature (64 bytes)
    v/<be8 height>                       the voter set from that height on, written
                                         only when it changes: canonical
                                         [[node_id, public_key], ...] sorted
    l/<be8 leaf>                         the canonical envelope bytes of the leaf
                                         (accepted envelopes only)
    e/<be8 height><be8 offset>           the canonical bytes of the envelope rejected
                                         at `offset` (0-based, proposal order) in
                                         block `height`; not a leaf
    d/<doc_id, 32 raw bytes>             17 bytes. Accepted: be8 leaf + be8 height
                                         + 0x01. Rejected: be8 height + be8 offset
                                         (its ``e/`` key) + 0x00. Points at the
                                         accepted leaf if there is one, else the
                                         latest rejection
    i/u/<org>\\0<be8 created_at><be8 leaf>     accepted documents by unit
    i/m/<member>\\0<be8 created_at><be8 leaf>  by member (signers and body.member)
    i/t/<type>\\0<be8 created_at><be8 leaf>    by type
    i/r/<doc_id hex>\\0<be8 created_at><be8 leaf>  by the documents they reference (each of
                                         their ``refs``): amendments of a record, answers
                                         to a directive, ballots of a poll
    i/n/<be8 leaf>                       accepted ``node`` documents (membership)
    s/<doc_id, 32 raw bytes>             the sealed boxes of an accepted confidential document,
                                         canonical [{recipient, key, box}] (ledger/sealing.py):
                                         beside the ledger, never a leaf

A proposal item is a bare envelope or a *submission* (an envelope with its
sealed boxes, ledger/sealing.py): the envelope alone is the leaf and the
``tx_root`` input; the boxes are stored under ``s/`` and given back by
:meth:`Ledger.proposal`, so catch-up carries them. They never decide a status.

The voters that certify block ``h`` are those in force before it (after
blocks ``< h``): ``voters_at(h)`` reads the last ``v/`` record at or below
``h``.

Observers (the read models of ``views/``) are handed each applied block
inside its batch: ``Ledger(store, genesis, observers=[...])`` calls
``observer.open(ledger)`` once (an observer behind the ledger catches up
there), then, in every ``apply_block``, after the block is staged and
vouched for and before the commit, ``observer.apply_block(overlay, header,
accepted)`` with the block's accepted documents in log order, and
``observer.committed(height)`` once the batch is durable. Whatever an
observer writes into the overlay is committed with the block or not at all,
so it can never miss or double a block. The ledger imports no observer: the
contract is :class:`LedgerObserver`.
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

from .blocks import (
    MAX_PROPOSAL_BYTES,
    ACCEPTED,
    MAX_CLOCK_SKEW_MS,
    REJECTED,
    Block,
    BlockProposal,
    BlockSignature,
    DocumentStatus,
    Header,
    TreeHead,
    block_signing_message,
    check_certificate,
    quorum_size,
)
from .documents import Envelope, salvage_doc_id
from .encoding import canonical, decode_canonical
from .errors import AlreadyCommitted, CorruptionError, InvalidInput, MinutebookError, NotFound, Rejected
from .jsonfmt import b64e
from .keys import BLOCK_DOMAIN, verify
from .merkle import EMPTY_ROOT, leaf_hash, root
from .merkle_log import MerkleLog
from .receipts import consistency_json, receipt_json
from .registry import Genesis, Registry
from .schemas import AMENDABLE
from .sealing import SealedBox, check_sealed, envelope_of, split_submission, submission_bytes
from .store import Overlay, Store

__all__ = ["Ledger", "BlockOutOfOrder", "INDEX_KINDS", "AcceptedDocument", "LedgerObserver"]

_u64 = struct.Struct(">Q")
_pack = _u64.pack
_ZERO_ID = bytes(32)
_HEADER_CACHE = 4096
_CHECKED_CACHE = 10_000

_K_GENESIS = b"g"
_K_FORMAT = b"x/format"
# Version of the storage layout. 2: only accepted envelopes are leaves (rejected ones under e/).
# 3: records (one per act, amendments), committee work and unit times in the registry, the i/r/ index.
# A store without this key, or with another version, is refused rather than misread.
STORE_FORMAT = b"3"
_K_HEAD = b"h"
_K_RAFT = b"x/raft_applied"
_P_BLOCK = b"b/"
_P_CERT = b"c/"
_P_VOTERS = b"v/"
_P_LEAF = b"l/"
_P_REJECTED = b"e/"
_P_DOC = b"d/"
_P_NODE_DOCS = b"i/n/"
_P_SEALED = b"s/"
INDEX_KINDS = {"unit": b"i/u/", "member": b"i/m/", "type": b"i/t/", "ref": b"i/r/"}


class BlockOutOfOrder(CorruptionError):
    """apply_block was handed a proposal that does not extend the head: a gap
    or a fork in what Raft committed, which is a broken invariant. (The node
    runtime filters stale proposals with :meth:`Ledger.is_next` first.)"""


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptedDocument:
    """One accepted envelope of a block, as observers are handed it."""

    leaf_index: int
    doc_id: str
    envelope: Envelope


class LedgerObserver(Protocol):
    """What the ledger feeds each applied block to (module docstring, "Observers")."""

    def open(self, ledger: "Ledger") -> None:
        """Called once when the Ledger is constructed; an observer behind it catches up here."""

    def apply_block(self, overlay: Overlay, header: Header, accepted: Sequence[AcceptedDocument]) -> None:
        """Add this block's writes to `overlay` (committed with the block, atomically)."""

    def committed(self, height: int) -> None:
        """The batch of block `height` (with this observer's writes) is durable in the store."""


def _split_item(data: bytes) -> tuple[bytes, list[SealedBox] | None]:
    """A proposal item's envelope bytes and boxes. A malformed submission keeps
    its envelope (if it has one) and loses its boxes: boxes never decide a status."""
    try:
        return split_submission(data)
    except MinutebookError:
        try:
            obj = decode_canonical(data, max_bytes=MAX_PROPOSAL_BYTES)
        except MinutebookError:
            return data, None
        if isinstance(obj, dict) and isinstance(obj.get("envelope"), bytes):
            return obj["envelope"], None
        return data, None


def _jsonable(value: Any) -> Any:
    """A canonical value as JSON: bytes become base64url (DESIGN.md)."""
    if isinstance(value, bytes):
        return b64e(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _genesis_hash_bytes(genesis: Genesis) -> bytes:
    h = genesis.genesis_hash
    if isinstance(h, str):
        h = bytes.fromhex(h)
    if len(h) != 32:
        raise CorruptionError("genesis hash is not 32 bytes")
    return h


class Ledger:
    """The ledger over a :class:`~ledger.store.Store`.

    On a fresh store it writes the genesis state (registry, first voter set)
    in one batch; on an existing one it checks the genesis hash matches.
    """

    def __init__(self, store: Store, genesis: "Genesis | dict", *,
                 observers: Iterable[LedgerObserver] = ()) -> None:
        if isinstance(genesis, dict):
            genesis = Genesis.from_json(genesis)
        self.store = store
        self.genesis = genesis
        self.genesis_hash = _genesis_hash_bytes(genesis)
        stored = store.get(_K_GENESIS)
        if stored is None:
            overlay = Overlay(store)
            Registry.bootstrap(overlay, genesis)
            overlay.put(_K_GENESIS, self.genesis_hash)
            overlay.put(_K_FORMAT, STORE_FORMAT)
            overlay.put(_P_VOTERS + _pack(1), self._encode_voters(Registry(overlay)))
            overlay.commit()
        elif stored != self.genesis_hash:
            raise InvalidInput("genesis", f"store was made from genesis {stored.hex()}, not {self.genesis_hash.hex()}")
        else:
            version = store.get(_K_FORMAT)
            if version != STORE_FORMAT:
                found = "none (written before format versions)" if version is None else repr(version.decode(errors="replace"))
                raise CorruptionError(
                    f"ledger store format {found} is not {STORE_FORMAT.decode()!r} (the registry's rules and "
                    f"layout changed); start from an empty data directory and let the node catch up from its peers")
        raw = store.get(_K_HEAD)
        # Invariant: height == number of blocks applied; head_header is block `height`'s.
        self.height = 0 if raw is None else _u64.unpack(raw)[0]
        self._head: Header | None = self._block_record(self.height)[0] if self.height else None
        self._log = MerkleLog(store)
        self._headers: dict[int, Header] = {}  # height -> header, bounded by _HEADER_CACHE
        # canonical envelope bytes -> the Envelope admission decoded and verified, or decode()
        # decoded (_keep_checked); applying verifies what is not verified yet
        self._checked: dict[bytes, Envelope] = {}
        self._reads: tuple[int, Overlay] = (-1, Overlay(store))  # (height, view): _committed_reads
        self._genesis_voters = self.voters_at(1)
        self.observers: tuple[LedgerObserver, ...] = tuple(observers)
        for observer in self.observers:
            observer.open(self)

    # -- the state machine ---------------------------------------------------

    @property
    def head_hash(self) -> bytes:
        """Raw hash of the head header; the genesis hash before block 1."""
        return self._head.hash if self._head is not None else self.genesis_hash

    def head(self) -> Header | None:
        return self._head

    @property
    def raft_applied(self) -> int:
        raw = self.store.get(_K_RAFT)
        return 0 if raw is None else _u64.unpack(raw)[0]

    def is_next(self, proposal: BlockProposal) -> bool:
        """Whether `proposal` extends the head: height + 1, prev_hash, and a timestamp not before
        the head's (block time never goes back; node/clock.py, rule 1)."""
        return (proposal.height == self.height + 1 and proposal.prev_hash == self.head_hash
                and proposal.timestamp >= (self._head.timestamp if self._head is not None else 0))

    def note_raft_applied(self, raft_index: int) -> None:
        """Record a Raft index applied without a block (a no-op or stale entry)."""
        self.store.write({_K_RAFT: _pack(raft_index)})

    def apply_block(self, proposal: BlockProposal, *, raft_index: int | None = None,
                    vouch: "Callable[[Header], None] | None" = None,
                    certified: "tuple[Header, list[BlockSignature]] | None" = None) -> Block:
        """Validate and apply every envelope of `proposal`; commit it all in one batch.

        `vouch`, if given, sees the header the block makes before anything is
        written and raises to refuse it (catch-up: a fetched block is kept only
        if its certificate vouches for that header); then nothing is written.

        `certified` = (header, signatures) -- catch-up's fast path: a header
        that a strict majority of the voters before this block signed (checked
        here first) and those signatures. Then the envelopes' signatures are
        not verified again (the voters verified them before signing), the
        block must make exactly that header or nothing is written, and the
        voters' signatures are stored in the same batch. Why that is safe: the
        header commits to every envelope (``tx_root``) and to which of them
        were accepted, in order (``log_size``, ``log_root`` over the accepted
        ones), and a signature check only ever decides accepted or rejected;
        had skipping it changed any outcome, the header would differ and the
        block would be refused. The registry rules still run: they build this
        node's state. Raises ProofFailed if the certificate does not hold,
        InvalidInput if the block makes another header.

        Raises BlockOutOfOrder (a CorruptionError) if the proposal does not
        extend the head.
        """
        overlay = Overlay(self.store)
        accepted: list[AcceptedDocument] = []
        signatures: list[BlockSignature] = []
        if certified is not None:
            claimed, signatures = certified
            voters = self.voters_at(proposal.height)
            check_certificate(claimed.hash, signatures, voters)
            signatures = [sig for sig in signatures if sig.node in voters]
        block = self._stage_block(overlay, proposal, accepted, signatures_checked=certified is not None)
        if certified is not None and block.header != claimed:
            raise InvalidInput("header", f"block {proposal.height} makes header {block.header.block_hash}, not the "
                                         f"certified {claimed.block_hash}")
        if vouch is not None:
            vouch(block.header)
        for sig in signatures:
            overlay.put(_P_CERT + _pack(proposal.height) + sig.node.encode(), sig.sig)
        for observer in self.observers:
            observer.apply_block(overlay, block.header, accepted)
        if raft_index is not None:
            overlay.put(_K_RAFT, _pack(raft_index))
        overlay.commit()
        self.height = block.header.height
        self._head = block.header
        for observer in self.observers:
            observer.committed(self.height)
        return block

    def _stage_block(self, overlay: Overlay, proposal: BlockProposal, observed: list[AcceptedDocument], *,
                     signatures_checked: bool = False) -> Block:
        """Apply `proposal` into `overlay` (everything but the Raft index); the accepted documents
        are appended to `observed`, in log order. `signatures_checked`: the caller holds a
        certificate for the header this must make (see apply_block)."""
        if not self.is_next(proposal):
            head_ts = self._head.timestamp if self._head is not None else 0
            raise BlockOutOfOrder(
                f"proposal for height {proposal.height} with prev_hash {proposal.prev_hash.hex()} and timestamp "
                f"{proposal.timestamp} does not extend height {self.height} with hash {self.head_hash.hex()} and "
                f"timestamp {head_ts}"
            )
        height = proposal.height
        at_ms = proposal.timestamp
        put = overlay.put
        get = overlay.get
        registry = Registry(overlay)
        log = MerkleLog(overlay)
        first_leaf = log.size
        height_be = _pack(height)
        accepted_here: set[bytes] = set()
        accepted: list[bytes] = []  # the leaf hashes of the block's leaves, in proposal order
        doc_ids: list[bytes] = []
        no_id: list[int] = []
        rejected: list[list] = []
        statuses: list[DocumentStatus] = []
        membership_changed = False
        tx_leaves: list[bytes] = []
        for offset, data in enumerate(proposal.envelopes):
            envelope_bytes, boxes = _split_item(data)
            tx_leaves.append(leaf_hash(envelope_bytes))
            envelope = reason = None
            if signatures_checked and not boxes:  # the certified fast path; what it would refuse, the full way
                verdict = self._judge_certified(registry, get, envelope_bytes, at_ms, accepted_here)
                if verdict is not None:
                    envelope, doc_id, raw_id, doc_key, previous = verdict
            if envelope is None:
                envelope, doc_id, raw_id, doc_key, previous, reason = self._judge(
                    registry, get, envelope_bytes, at_ms, accepted_here, trust=signatures_checked)
            if raw_id is None:
                no_id.append(offset)
                doc_ids.append(_ZERO_ID)
            else:
                doc_ids.append(raw_id)
            if reason is not None:
                # Not a leaf: kept by (height, offset) so the proposal can be rebuilt.
                offset_be = _pack(offset)
                put(_P_REJECTED + height_be + offset_be, data)
                rejected.append([offset, reason])
                statuses.append(DocumentStatus(doc_id=doc_id, leaf_index=None, status=REJECTED, reason=reason))
                if doc_key is not None and raw_id not in accepted_here and (previous is None or previous[16] == 0):
                    put(doc_key, height_be + offset_be + b"\x00")
                continue
            leaf = first_leaf + len(accepted)
            leaf_be = _pack(leaf)
            accepted.append(tx_leaves[-1])  # the same RFC 9162 leaf hash: hashed once
            put(_P_LEAF + leaf_be, envelope_bytes)
            if boxes:
                try:
                    check_sealed(envelope.doc, boxes, registry)
                except MinutebookError:
                    pass  # dropped on every node alike; the document stands on its envelope
                else:
                    put(_P_SEALED + raw_id, canonical([b.to_obj() for b in boxes]))
            statuses.append(DocumentStatus(doc_id=doc_id, leaf_index=leaf, status=ACCEPTED))
            accepted_here.add(raw_id)
            observed.append(AcceptedDocument(leaf_index=leaf, doc_id=doc_id, envelope=envelope))
            put(doc_key, leaf_be + height_be + b"\x01")
            self._index(put, envelope, leaf_be)
            if envelope.doc.type == "node":
                put(_P_NODE_DOCS + leaf_be, raw_id)
                membership_changed = True
        log.append_leaf_hashes(accepted)
        header = Header(
            height=height,
            prev_hash=proposal.prev_hash,
            timestamp=proposal.timestamp,
            proposer=proposal.proposer,
            term=proposal.term,
            tx_root=root(tx_leaves) if tx_leaves else EMPTY_ROOT,
            log_size=log.size,
            log_root=log.root(),
        )
        if membership_changed:
            voters = self._encode_voters(registry)
            if voters != self._voters_record(height):
                put(_P_VOTERS + _pack(height + 1), voters)
        put(
            _P_BLOCK + height_be,
            canonical({"header": header.canonical, "doc_ids": b"".join(doc_ids), "no_id": no_id, "rejected": rejected}),
        )
        put(_K_HEAD, height_be)
        return Block(header=header, documents=tuple(statuses))

    def _judge(self, registry: Registry, get, envelope_bytes: bytes, at_ms: int, accepted_here: set, *,
               trust: bool) -> tuple:
        """Decide one envelope of a block the full way: ``(envelope or None, doc_id, raw_id,
        doc_key, previous d/ record, reason or None)``; an accepted one is applied to `registry`.
        `trust`: take its signatures as verified (a certified block, see apply_block)."""
        reason = None
        try:
            envelope = self._checked.pop(envelope_bytes, None) or Envelope.from_bytes(envelope_bytes)
        except MinutebookError as exc:
            envelope = None
            reason = f"{exc.code}: {exc.message}"
            doc_id = salvage_doc_id(envelope_bytes)
        else:
            doc_id = envelope.doc_id
            if trust:
                envelope.trust_signatures()
        raw_id = bytes.fromhex(doc_id) if doc_id is not None else None
        doc_key = _P_DOC + raw_id if raw_id is not None else None
        previous = get(doc_key) if doc_key is not None else None
        if envelope is not None:
            reason = self._refusal(envelope, doc_id, raw_id, previous, accepted_here, at_ms)
            if reason is None:
                try:
                    registry.apply(envelope, at_ms)
                except MinutebookError as exc:
                    reason = f"{exc.code}: {exc.message}"
        return envelope, doc_id, raw_id, doc_key, previous, reason

    @staticmethod
    def _refusal(envelope: Envelope, doc_id: str, raw_id: bytes, previous: bytes | None, accepted_here: set,
                 at_ms: int) -> str | None:
        """Why a decoded envelope is refused before the registry rules run: a duplicate, or a
        clock skew; else None."""
        if raw_id in accepted_here:
            return f"duplicate: document {doc_id} is already accepted in this block"
        if previous is not None and previous[16] == 1:
            return f"duplicate: document {doc_id} is already accepted at leaf {_u64.unpack(previous[:8])[0]}"
        created_at = envelope.doc.created_at
        if created_at > at_ms + MAX_CLOCK_SKEW_MS:  # node/clock.py, rule 1
            return (f"clock_skew: doc.created_at {created_at} is {(created_at - at_ms) // 1000} s after the "
                    f"block's timestamp {at_ms} (at most {MAX_CLOCK_SKEW_MS // 1000} s)")
        return None

    def _judge_certified(self, registry: Registry, get, envelope_bytes: bytes, at_ms: int,
                         accepted_here: set) -> tuple | None:
        """The fast path of a certified block's envelope: ``(envelope, doc_id, raw_id, doc_key,
        previous)`` if it is accepted (and applied to `registry`), else None (then
        :meth:`_judge` decides it, so a refused document gets the reason every node gives).

        It skips what the certified header guarantees for an accepted document: the proof that
        the bytes are canonical, the body's schema and the rules tying its fields together
        (``Envelope.from_certified_bytes``), and the signatures. Why that is safe: the header
        commits to which envelopes were accepted, in order (``log_size``, ``log_root``), and a
        strict majority of the voters signed it after checking each envelope the full way. An
        envelope this path accepts and the voters refused makes a different log, so a
        different header, and apply_block writes nothing (the full path then decides the whole
        block); an envelope the voters accepted is valid, so these registry rules see exactly
        what the full path would. What runs on a body no schema checked: the registry rules
        (which read it and may raise anything -- caught here, and the document judged again the
        full way, before anything of it is written: the registry applies a plan only once it is
        complete). Everything written for an accepted document beyond the registry reads only
        fields that were checked (org, type, created_at, refs, signers). Submissions with sealed
        boxes and ``node`` documents always take the full way."""
        try:
            envelope = Envelope.from_certified_bytes(envelope_bytes)
        except MinutebookError:
            return None
        if envelope.doc.type == "node":  # membership: rare, and what later certificates rest on
            return None
        doc_id = envelope.doc_id
        raw_id = bytes.fromhex(doc_id)
        doc_key = _P_DOC + raw_id
        previous = get(doc_key)
        if self._refusal(envelope, doc_id, raw_id, previous, accepted_here, at_ms) is not None:
            return None
        try:
            registry.apply(envelope, at_ms)
        except Exception:  # noqa: BLE001 - whatever a body no schema checked makes the rules raise
            return None
        return envelope, doc_id, raw_id, doc_key, previous

    @staticmethod
    def _index(put, envelope: Envelope, leaf_be: bytes) -> None:
        doc = envelope.doc
        suffix = b"\0" + _pack(doc.created_at) + leaf_be
        put(b"i/u/" + doc.org.encode() + suffix, b"")
        put(b"i/t/" + doc.type.encode() + suffix, b"")
        members = {s.signer for s in envelope.sigs}
        subject = doc.body.get("member") if isinstance(doc.body, dict) else None
        if isinstance(subject, str):
            members.add(subject)
        for member in members:
            put(b"i/m/" + member.encode() + suffix, b"")
        for ref in doc.refs:
            put(b"i/r/" + ref.encode() + suffix, b"")

    # -- voters and certificates ---------------------------------------------

    @staticmethod
    def _encode_voters(registry: Registry) -> bytes:
        pairs = []
        for node_id in registry.voters():
            key = registry.node_key(node_id)
            if key is None:
                raise CorruptionError(f"voter {node_id} has no node key")
            pairs.append([node_id, key])
        return canonical(pairs)

    def _voters_record(self, height: int) -> bytes:
        for _, value in self.store.scan(_P_VOTERS, start=_P_VOTERS + _pack(height), reverse=True, limit=1):
            return value
        raise CorruptionError("no voter set recorded (genesis not written?)")

    def voters_at(self, height: int) -> dict[str, bytes]:
        """The voters that certify block `height` (node id -> public key):
        those in force after blocks < height."""
        if type(height) is not int or height < 1:
            raise InvalidInput("height", f"expected an int >= 1, got {height!r}")
        return {node_id: key for node_id, key in decode_canonical(self._voters_record(height))}

    def add_block_signature(self, height: int, node_id: str, sig: bytes) -> bool:
        """Store `sig` if it is a voter's valid signature of block `height`
        (over BLOCK_DOMAIN + the 32 raw bytes of its hash); return whether it was.
        Raises NotFound for a block not applied yet (the runtime buffers those)."""
        header = self.header(height)
        key = self.voters_at(height).get(node_id)
        if key is None or not isinstance(sig, bytes) or len(sig) != 64:
            return False
        if not verify(key, BLOCK_DOMAIN, block_signing_message(header.hash), sig):
            return False
        cert_key = _P_CERT + _pack(height) + node_id.encode()
        if self.store.get(cert_key) != sig:
            self.store.write({cert_key: sig})
        return True

    def certificate(self, height: int) -> tuple[BlockSignature, ...]:
        """The verified signatures stored for block `height`, sorted by node id."""
        prefix = _P_CERT + _pack(height)
        return tuple(
            BlockSignature(node=key[len(prefix):].decode(), sig=value) for key, value in self.store.scan(prefix)
        )

    def is_certified(self, height: int) -> bool:
        voters = self.voters_at(height)
        signed = {s.node for s in self.certificate(height)} & set(voters)
        return len(signed) >= quorum_size(len(voters))

    # -- blocks --------------------------------------------------------------

    def _block_record(self, height: int) -> tuple[Header, dict]:
        if type(height) is not int or not 1 <= height <= self.height:
            raise NotFound(f"block {height}")
        raw = self.store.get(_P_BLOCK + _pack(height))
        if raw is None:
            raise CorruptionError(f"block record {height} missing below the head {self.height}")
        record = decode_canonical(raw, max_bytes=1 << 30)
        return Header.from_bytes(record["header"]), record

    def header(self, height: int) -> Header:
        """Block `height`'s header (kept in a small cache: headers never change once written)."""
        header = self._headers.get(height)
        if header is None:
            if self._head is not None and height == self.height:
                return self._head
            header = self._block_record(height)[0]
            if len(self._headers) >= _HEADER_CACHE:
                self._headers.clear()
            self._headers[height] = header
        return header

    @staticmethod
    def _first_leaf(header: Header, record: dict) -> int:
        """The leaf of the block's first accepted envelope: its accepted
        envelopes hold the leaves first_leaf .. log_size - 1."""
        accepted = len(record["doc_ids"]) // 32 - len(record["rejected"])
        first = header.log_size - accepted
        if accepted < 0 or first < 0:
            raise CorruptionError(f"block record {header.height}: {accepted} accepted envelopes, log size "
                                  f"{header.log_size}")
        return first

    def block_object(self, height: int) -> Block:
        header, record = self._block_record(height)
        ids = record["doc_ids"]
        no_id = set(record["no_id"])
        reasons = dict(record["rejected"])
        leaf = self._first_leaf(header, record)
        documents = []
        for i in range(len(ids) // 32):
            doc_id = None if i in no_id else ids[32 * i : 32 * i + 32].hex()
            if i in reasons:
                documents.append(DocumentStatus(doc_id=doc_id, leaf_index=None, status=REJECTED, reason=reasons[i]))
            else:
                documents.append(DocumentStatus(doc_id=doc_id, leaf_index=leaf, status=ACCEPTED))
                leaf += 1
        return Block(header=header, documents=tuple(documents), certificate=self.certificate(height))

    def block(self, height: int) -> dict:
        """The Block JSON object (DESIGN.md "Formats")."""
        return self.block_object(height).to_json()

    def proposal(self, height: int) -> BlockProposal:
        """The proposal block `height` was applied from (for catch-up): the
        accepted envelopes from the log (with their sealed boxes, as
        submissions) and the rejected items from ``e/``, merged back into
        proposal order, so ``to_bytes()`` is what was applied (less any boxes
        that were malformed and dropped)."""
        header, record = self._block_record(height)
        count = len(record["doc_ids"]) // 32
        first = self._first_leaf(header, record)
        prefix = _P_REJECTED + _pack(height)
        rejected = {_u64.unpack(k[len(prefix):])[0]: v for k, v in self.store.scan(prefix)}
        if sorted(rejected) != sorted(offset for offset, _ in record["rejected"]):
            raise CorruptionError(f"block {height}: rejected envelopes stored at offsets {sorted(rejected)}, the "
                                  f"block record lists {sorted(o for o, _ in record['rejected'])}")
        leaves = [v for _, v in self.store.scan(_P_LEAF, start=_P_LEAF + _pack(first), limit=count - len(rejected))]
        if len(leaves) != count - len(rejected):
            raise CorruptionError(f"block {height}: {len(leaves)} of its {count - len(rejected)} leaves are stored")
        accepted = iter(leaves)
        ids = record["doc_ids"]

        def item(i: int) -> bytes:
            if i in rejected:
                return rejected[i]
            envelope = next(accepted)
            boxes = self.store.get(_P_SEALED + ids[32 * i:32 * i + 32])
            if boxes is None:
                return envelope
            return submission_bytes(envelope, [SealedBox.from_obj(b, "sealed") for b in decode_canonical(boxes)])

        envelopes = tuple(item(i) for i in range(count))
        return BlockProposal(
            height=height, prev_hash=header.prev_hash, timestamp=header.timestamp,
            proposer=header.proposer, term=header.term, envelopes=envelopes,
        )

    def accepted_documents(self, height: int) -> list[AcceptedDocument]:
        """The accepted documents of block `height`, in log order (what observers
        were handed when it was applied; for replaying a block into them)."""
        header, record = self._block_record(height)
        count = len(record["doc_ids"]) // 32 - len(record["rejected"])
        first = self._first_leaf(header, record)
        out = []
        for offset, (_, data) in enumerate(
                self.store.scan(_P_LEAF, start=_P_LEAF + _pack(first), limit=count) if count else ()):
            envelope = Envelope.from_bytes(data)
            out.append(AcceptedDocument(leaf_index=first + offset, doc_id=envelope.doc_id, envelope=envelope))
        if len(out) != count:
            raise CorruptionError(f"block {height}: {len(out)} of its {count} leaves are stored")
        return out

    def tree_head(self, *, certified: bool = False) -> dict:
        """The signed tree head of the latest block (or the latest certified
        one) as JSON; an empty ledger has ``height`` 0 and no certificate."""
        height = self.height
        if certified:
            while height and not self.is_certified(height):
                height -= 1
        if height == 0:
            return {
                "log_size": 0, "log_root": EMPTY_ROOT.hex(), "height": 0,
                "block_hash": self.genesis_hash.hex(), "timestamp": 0, "certificate": [],
            }
        return TreeHead.of(self.header(height), self.certificate(height)).to_json()

    def consistency_proof(self, m: int, n: int) -> dict:
        """``{first, second, proof}`` (RFC 9162 §2.1.4) between log sizes m and n."""
        size = self._log.size
        for name, value in (("first", m), ("second", n)):
            if type(value) is not int:
                raise InvalidInput(name, f"expected an int, got {value!r}")
        if not 0 < m <= n <= size:
            raise InvalidInput("first", f"requires 0 < first <= second <= {size} (the log size), got {m}, {n}")
        return consistency_json(m, n, self._log.consistency_proof(m, n))

    # -- documents -------------------------------------------------------------

    def _doc_record(self, doc_id: str) -> tuple[int, int | None, int | None]:
        """``(height, leaf, None)`` for an accepted document, ``(height, None,
        offset)`` for a rejected one (its latest rejection)."""
        try:
            raw_id = bytes.fromhex(doc_id) if isinstance(doc_id, str) and len(doc_id) == 64 else None
        except ValueError:
            raw_id = None
        if raw_id is None:
            raise InvalidInput("doc_id", "expected 64 lowercase hex characters")
        raw = self.store.get(_P_DOC + raw_id)
        if raw is None:
            raise NotFound(f"document {doc_id}")
        first, second = _u64.unpack(raw[:8])[0], _u64.unpack(raw[8:16])[0]
        if raw[16] == 1:
            return second, first, None
        return first, None, second

    def envelope_at(self, leaf: int) -> bytes:
        """The canonical envelope bytes of leaf `leaf` (an accepted document)."""
        data = self.store.get(_P_LEAF + _pack(leaf))
        if data is None:
            raise NotFound(f"leaf {leaf}")
        return data

    def rejected_envelope(self, height: int, offset: int) -> bytes:
        """The canonical bytes of the rejected envelope at `offset` in block `height`."""
        data = self.store.get(_P_REJECTED + _pack(height) + _pack(offset))
        if data is None:
            raise NotFound(f"rejected envelope {offset} of block {height}")
        return data

    def document(self, doc_id: str) -> dict:
        """``{doc_id, leaf_index, height, status, reason?, envelope, doc,
        current?, versions?}``; ``envelope`` base64url, ``doc`` the document
        with bytes as base64url. A rejected document has ``leaf_index`` None
        (it is no leaf) and the reason of its latest rejection. An accepted
        record of an amendable type (ledger/schemas.py ``AMENDABLE``) has
        ``current`` (the doc id of its version in force, None once withdrawn)
        and ``versions`` ``[{doc_id, action: original|amend|withdraw,
        height}]``, oldest first. The documents that reference it (its
        amendments among them) are ``documents_by("ref", doc_id)``."""
        height, leaf, offset = self._doc_record(doc_id)
        return self._document_json(doc_id, height, leaf=leaf, offset=offset)

    def _document_json(self, doc_id: str, height: int, *, leaf: int | None = None, offset: int | None = None) -> dict:
        d: dict = {"doc_id": doc_id, "leaf_index": leaf, "height": height}
        if leaf is not None:
            data = self.envelope_at(leaf)
            d["status"] = ACCEPTED
        else:
            data = envelope_of(self.rejected_envelope(height, offset))
            d["status"] = REJECTED
            d["reason"] = self._rejection_reason(doc_id, height, offset)
        d["envelope"] = b64e(data)
        doc = decode_canonical(data)["doc"]
        d["doc"] = _jsonable(doc)
        if leaf is not None and doc["type"] in AMENDABLE:
            record = Registry(self.store).record(doc_id)
            if record is not None:  # None only for a record whose original was rejected
                d["current"] = record["current"]
                d["versions"] = [dict(v, height=self._doc_record(v["doc_id"])[0]) for v in record["versions"]]
        return d

    def _rejection_reason(self, doc_id: str, height: int, offset: int) -> str:
        reason = dict(self._block_record(height)[1]["rejected"]).get(offset)
        if reason is None:
            raise CorruptionError(f"document {doc_id} is recorded rejected at offset {offset} of block {height}, "
                                  f"which the block record does not list as rejected")
        return reason

    def check_submission(self, envelope_bytes: bytes, *, at_ms: int | None = None) -> Envelope:
        """Leader admission: decode, validate and check against the current
        registry (signatures included, and the sealed boxes of a submission);
        raises the typed errors, and AlreadyCommitted (with the receipt) for a
        document accepted before. Takes an envelope or a submission."""
        envelope_bytes, boxes = split_submission(envelope_bytes)
        envelope = Envelope.from_bytes(envelope_bytes)
        doc_id = envelope.doc_id
        raw = self.store.get(_P_DOC + bytes.fromhex(doc_id))
        if raw is not None and raw[16] == 1:
            try:
                receipt = self.receipt(doc_id)
            except NotFound:  # its block is being applied this instant (written, head not yet moved)
                receipt = None
            raise AlreadyCommitted(doc_id, receipt)
        if at_ms is None:
            at_ms = max(int(time.time() * 1000), self._head.timestamp if self._head else 0)
        if envelope.doc.created_at > at_ms + MAX_CLOCK_SKEW_MS:  # node/clock.py, rule 2
            raise InvalidInput("doc.created_at", f"{envelope.doc.created_at} is "
                                                 f"{(envelope.doc.created_at - at_ms) // 1000} s ahead of the "
                                                 f"leader's clock (at most {MAX_CLOCK_SKEW_MS // 1000} s): is the "
                                                 f"signing device's clock fast?")
        registry = Registry(self._committed_reads())
        registry.check(envelope, at_ms)
        if boxes:
            check_sealed(envelope.doc, boxes, registry)
        self._keep_checked(envelope)
        return envelope

    def decode(self, envelope_bytes: bytes) -> Envelope:
        """Decode and validate envelope bytes (the typed errors, nothing checked against the
        registry), keeping the Envelope for the block that will carry them, so this node
        decodes them once: for a follower that answers a submission itself. Applying still
        verifies its signatures (nobody verified them here) and runs every registry rule."""
        envelope = Envelope.from_bytes(envelope_bytes)
        self._keep_checked(envelope)
        return envelope

    def _committed_reads(self) -> Overlay:
        """A read-only view of the committed state for admission that keeps what it read until
        the next block is applied (admission reads the same members, keys and units over and
        over). Never written. A new one per height; an admission racing an apply may read the
        state of the block before, as it may without the view: admission only advises, the
        apply checks again."""
        height, view = self._reads
        if height != self.height:
            height, view = self._reads = (self.height, Overlay(self.store))
        return view

    def _keep_checked(self, envelope: Envelope) -> None:
        """Keep a decoded envelope (its signatures verified, if admission checked it) for the
        block that will carry it: applying takes it by its bytes instead of decoding (and
        verifying) again. Only what is a pure function of the bytes is skipped; every registry
        rule is checked again on apply. Bounded: the oldest go first (they are only decoded
        again)."""
        checked = self._checked
        checked[envelope.to_bytes()] = envelope
        while len(checked) > _CHECKED_CACHE:
            try:
                del checked[next(iter(checked))]
            except (KeyError, StopIteration, RuntimeError):  # another thread took it meanwhile
                break

    def inclusion(self, doc_id: str, leaf_hash_hex: str) -> dict:
        """Integrity without content: the RFC 9162 audit path of an accepted
        document's leaf, for one who holds its envelope (so knows its leaf
        hash ``SHA-256(0x00 ‖ envelope)``), against the log of the block holding
        it: ``{doc_id, leaf_index, leaf_hash, height, block_hash, log_size,
        log_root, inclusion_proof}``. NotFound unless `doc_id` is accepted with
        that leaf hash."""
        height, leaf, _ = self._doc_record(doc_id)
        if leaf is None or self._log.leaf_hash_at(leaf).hex() != leaf_hash_hex:
            raise NotFound(f"accepted document {doc_id} with leaf hash {leaf_hash_hex}")
        header = self.header(height)
        return {"doc_id": doc_id, "leaf_index": leaf, "leaf_hash": leaf_hash_hex, "height": height,
                "block_hash": header.block_hash, "log_size": header.log_size, "log_root": header.log_root.hex(),
                "inclusion_proof": [h.hex() for h in self._log.inclusion_proof(leaf, header.log_size)]}

    def sealed(self, doc_id: str) -> list[SealedBox]:
        """The sealed boxes kept for an accepted confidential document ([] if none)."""
        height, leaf, _ = self._doc_record(doc_id)
        raw = self.store.get(_P_SEALED + bytes.fromhex(doc_id)) if leaf is not None else None
        return [] if raw is None else [SealedBox.from_obj(b, "sealed") for b in decode_canonical(raw)]

    def receipt(self, doc_id: str) -> dict:
        """The Receipt object for an accepted document (receipts.py has the format).

        Raises NotFound for an unknown document and Rejected for a rejected one.
        """
        height, leaf, offset = self._doc_record(doc_id)
        if leaf is None:
            raise Rejected(self._rejection_reason(doc_id, height, offset))
        return self._receipt(doc_id, leaf, self._receipt_block(height), self._membership(height))

    def receipts_at(self, height: int, doc_ids: list[str]) -> dict[str, "dict | MinutebookError"]:
        """Receipts of documents in block `height`, the block's part built once (what the
        waiters of one block need); each value is the receipt, or the error ``receipt`` raises."""
        block = self._receipt_block(height)
        membership = self._membership(height)
        out: dict[str, dict | MinutebookError] = {}
        for doc_id in doc_ids:
            try:
                at, leaf, offset = self._doc_record(doc_id)
                if leaf is None:
                    raise Rejected(self._rejection_reason(doc_id, at, offset))
                out[doc_id] = self._receipt(doc_id, leaf, block if at == height else self._receipt_block(at),
                                            membership if at == height else self._membership(at))
            except MinutebookError as exc:
                out[doc_id] = exc
        return out

    def _receipt_block(self, height: int) -> Block:
        """The block part of a receipt: header and certificate (no status list)."""
        return Block(header=self.header(height), documents=(), certificate=self.certificate(height))

    def _membership(self, height: int) -> list[dict] | None:
        """The receipts of the accepted ``node`` documents before block `height`, when the voters
        that certify it differ from genesis (receipts.py); else None."""
        if self.voters_at(height) == self._genesis_voters:
            return None
        first_leaf = self._first_leaf(*self._block_record(height))
        return [
            self._receipt(value.hex(), leaf, self._receipt_block(self._doc_record(value.hex())[0]))
            for key, value in self.store.scan(_P_NODE_DOCS)
            if (leaf := _u64.unpack(key[len(_P_NODE_DOCS):])[0]) < first_leaf
        ]

    def _receipt(self, doc_id: str, leaf: int, block: Block, membership=None) -> dict:
        return receipt_json(
            doc_id=doc_id,
            envelope=self.envelope_at(leaf),
            leaf_index=leaf,
            inclusion_proof=self._log.inclusion_proof(leaf, block.header.log_size),
            block=block,
            membership=membership,
        )

    def documents_by(
        self,
        kind: str,
        value: str,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = 100,
        reverse: bool = False,
    ) -> Iterator[dict]:
        """Accepted documents of a unit, member or type, or that reference a
        document (`kind` "ref", `value` its doc id), ordered by created_at then
        leaf, optionally within [since_ms, until_ms]."""
        if kind not in INDEX_KINDS:
            raise InvalidInput("kind", f"expected one of {sorted(INDEX_KINDS)}, got {kind!r}")
        prefix = INDEX_KINDS[kind] + value.encode() + b"\0"
        if reverse:
            start = prefix + _pack(until_ms) + b"\xff" * 8 if until_ms is not None else None
        else:
            start = prefix + _pack(since_ms) if since_ms is not None else None
        count = 0
        for key, _ in self.store.scan(prefix, start=start, reverse=reverse):
            created_at = _u64.unpack(key[-16:-8])[0]
            if (reverse and since_ms is not None and created_at < since_ms) or (
                not reverse and until_ms is not None and created_at > until_ms
            ):
                return
            if limit is not None and count >= limit:
                return
            leaf = _u64.unpack(key[-8:])[0]
            data = self.envelope_at(leaf)
            doc_id = hashlib.sha256(canonical(decode_canonical(data)["doc"])).hexdigest()
            height = self._doc_record(doc_id)[0]
            yield self._document_json(doc_id, height, leaf=leaf)
            count += 1
