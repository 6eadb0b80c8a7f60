"""Raft records (entries, hard state, conf state, snapshots) and the messages peers exchange.

Every message is a frozen, slotted, keyword-only dataclass carrying ``term``,
``src`` and ``dst``; names follow the paper's RPCs (Raft Figure 2, §7, thesis
§3.10 for TimeoutNow). Each record and message checks itself in
``__post_init__`` (as h11's events do) with O(1) checks: ints are ints >= 0,
ids non-empty strs, bytes are bytes, an AppendEntries' entries follow
``prev_index`` (first and last checked; the wire decoder checks every one),
and raises ``MalformedMessage(field, rule)``. The hot path builds tens of
thousands a second, so the checks stay cheap. :func:`decode_message` is
stricter still on wire input and rejects rather than repairs: a wrong type,
a missing or unknown key, unsorted ids, non-decreasing terms.

Wire form (``encode_message``): a dict of plain ints, strs, bytes, bools,
None and lists, with ``"type"`` the class name; the runtime msgpacks it.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any, Union

from consensus.errors import MalformedMessage


def _check_index(value: Any, field: str) -> None:
    if type(value) is not int or value < 0:
        raise MalformedMessage(field, f"expected int >= 0, got {value!r}")


def _check_id(value: Any, field: str) -> None:
    if type(value) is not str or not value:
        raise MalformedMessage(field, f"expected a non-empty str, got {value!r}")


def _check_bytes(value: Any, field: str) -> None:
    if not isinstance(value, bytes):
        raise MalformedMessage(field, f"expected bytes, got {type(value).__name__}")


def _check_bool(value: Any, field: str) -> None:
    if type(value) is not bool:
        raise MalformedMessage(field, f"expected bool, got {value!r}")


def _check_envelope(msg: Any) -> None:
    """Every message: ``term`` an int >= 0, ``src`` and ``dst`` non-empty ids."""
    term = msg.term
    if type(term) is not int or term < 0:
        raise MalformedMessage("term", f"expected int >= 0, got {term!r}")
    _check_id(msg.src, "src")
    _check_id(msg.dst, "dst")

__all__ = [
    "EntryType", "Entry", "HardState", "ConfState", "ConfChangeType", "ConfChange",
    "SnapshotMetadata", "Snapshot", "ReadState",
    "RequestVote", "RequestVoteResponse", "AppendEntries", "AppendEntriesResponse",
    "Heartbeat", "HeartbeatResponse", "InstallSnapshot", "InstallSnapshotResponse", "ReadIndexRequest",
    "ReadIndexResponse", "TimeoutNow", "Message", "MESSAGE_TYPES", "encode_message", "decode_message",
]


class EntryType(enum.Enum):
    NORMAL = 0
    CONF_CHANGE = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One log entry (Raft Figure 2); empty NORMAL data is a leader's term-start no-op (§8)."""

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""

    def __post_init__(self) -> None:
        if type(self.term) is not int or self.term < 0:
            raise MalformedMessage("entry.term", f"expected int >= 0, got {self.term!r}")
        if type(self.index) is not int or self.index < 1:
            raise MalformedMessage("entry.index", f"expected int >= 1, got {self.index!r}")
        if type(self.type) is not EntryType:
            raise MalformedMessage("entry.type", f"expected an EntryType, got {self.type!r}")
        if not isinstance(self.data, bytes):
            raise MalformedMessage("entry.data", f"expected bytes, got {type(self.data).__name__}")


@dataclass(frozen=True, slots=True, kw_only=True)
class HardState:
    """What Raft Figure 2 calls persistent state: currentTerm, votedFor, plus the commit index."""

    term: int = 0
    vote: str | None = None
    commit: int = 0

    def __post_init__(self) -> None:
        _check_index(self.term, "hard_state.term")
        _check_index(self.commit, "hard_state.commit")
        if self.vote is not None:
            _check_id(self.vote, "hard_state.vote")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfState:
    """The membership: voter and learner ids, distinct and disjoint; kept sorted (any order is accepted)."""

    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("voters", "learners"):
            ids = getattr(self, name)
            if isinstance(ids, (str, bytes)) or not isinstance(ids, (tuple, list)):
                raise MalformedMessage(f"conf_state.{name}", f"expected a tuple of ids, got {type(ids).__name__}")
            for position, node in enumerate(ids):
                _check_id(node, f"conf_state.{name}[{position}]")
            if len(set(ids)) != len(ids):
                raise MalformedMessage(f"conf_state.{name}", "expected distinct ids")
            if type(ids) is not tuple or any(a > b for a, b in zip(ids, ids[1:])):
                object.__setattr__(self, name, tuple(sorted(ids)))  # sorting is order, not repair
        if set(self.voters) & set(self.learners):
            raise MalformedMessage("conf_state", "voters and learners must be disjoint")


class ConfChangeType(enum.Enum):
    ADD_VOTER = 0
    ADD_LEARNER = 1
    REMOVE_NODE = 2


_CC_HEADER = struct.Struct(">BH")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfChange:
    """One membership change (Raft thesis §4.1: one server at a time); the data of a CONF_CHANGE entry."""

    type: ConfChangeType
    node_id: str
    context: bytes = b""

    def __post_init__(self) -> None:
        if type(self.type) is not ConfChangeType:
            raise MalformedMessage("conf_change.type", f"expected a ConfChangeType, got {self.type!r}")
        _check_id(self.node_id, "conf_change.node_id")
        if len(self.node_id.encode("utf-8")) > 0xFFFF:
            raise MalformedMessage("conf_change.node_id", "expected at most 65535 UTF-8 bytes")
        _check_bytes(self.context, "conf_change.context")

    def to_bytes(self) -> bytes:
        node = self.node_id.encode("utf-8")
        return _CC_HEADER.pack(self.type.value, len(node)) + node + bytes(self.context)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ConfChange":
        if len(data) < _CC_HEADER.size:
            raise MalformedMessage("conf_change", f"expected at least {_CC_HEADER.size} bytes, got {len(data)}")
        kind, length = _CC_HEADER.unpack_from(data)
        try:
            cc_type = ConfChangeType(kind)
        except ValueError:
            raise MalformedMessage("conf_change.type", f"unknown conf change type {kind}") from None
        end = _CC_HEADER.size + length
        if len(data) < end or length == 0:
            raise MalformedMessage("conf_change.node_id", "length prefix exceeds the data or is zero")
        try:
            node_id = bytes(data[_CC_HEADER.size:end]).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedMessage("conf_change.node_id", "expected UTF-8") from None
        return cls(type=cc_type, node_id=node_id, context=bytes(data[end:]))


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMetadata:
    """The last entry a snapshot replaces (Raft §7: last included index and term) and its configuration."""

    index: int = 0
    term: int = 0
    conf_state: ConfState = ConfState()

    def __post_init__(self) -> None:
        _check_index(self.index, "metadata.index")
        _check_index(self.term, "metadata.term")
        if type(self.conf_state) is not ConfState:
            raise MalformedMessage("metadata.conf_state", f"expected a ConfState, got {self.conf_state!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    metadata: SnapshotMetadata = SnapshotMetadata()
    data: bytes = b""

    def __post_init__(self) -> None:
        if type(self.metadata) is not SnapshotMetadata:
            raise MalformedMessage("snapshot.metadata", f"expected SnapshotMetadata, got {self.metadata!r}")
        _check_bytes(self.data, "snapshot.data")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadState:
    """A ReadIndex answer (thesis §6.4): serve the read tagged ``context`` once applied >= ``index``."""

    index: int
    context: bytes

    def __post_init__(self) -> None:
        _check_index(self.index, "read_state.index")
        _check_bytes(self.context, "read_state.context")


# ------------------------------------------------------------------ messages


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestVote:
    """Raft §5.2 RequestVote; ``pre_vote`` is thesis §9.6, ``leadership_transfer`` thesis §3.10."""

    term: int
    src: str
    dst: str
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False
    leadership_transfer: bool = False

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_index(self.last_log_index, "last_log_index")
        _check_index(self.last_log_term, "last_log_term")
        _check_bool(self.pre_vote, "pre_vote")
        _check_bool(self.leadership_transfer, "leadership_transfer")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestVoteResponse:
    term: int
    src: str
    dst: str
    granted: bool
    pre_vote: bool = False

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_bool(self.granted, "granted")
        _check_bool(self.pre_vote, "pre_vote")


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendEntries:
    """Raft §5.3 AppendEntries: ``entries`` follow ``prev_index``; ``commit`` is the leader's commit index."""

    term: int
    src: str
    dst: str
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_index(self.prev_index, "prev_index")
        _check_index(self.prev_term, "prev_term")
        _check_index(self.commit, "commit")
        if self.prev_term > self.term:
            raise MalformedMessage("prev_term", "expected <= term")
        entries = self.entries
        if type(entries) is not tuple:
            raise MalformedMessage("entries", f"expected a tuple of Entry, got {type(entries).__name__}")
        if entries:
            # O(1): the ends follow prev_index (decode_message checks every entry of wire input).
            count = len(entries)
            first, last = entries[0], entries[-1]
            if type(first) is not Entry or first.index != self.prev_index + 1:
                raise MalformedMessage("entries[0].index", "expected prev_index + 1")
            if type(last) is not Entry or last.index != self.prev_index + count:
                raise MalformedMessage(f"entries[{count - 1}].index", "expected prev_index + position + 1")
            if last.term > self.term:
                raise MalformedMessage(f"entries[{count - 1}].term", "expected <= term")


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendEntriesResponse:
    """On success ``match_index`` is the last index known to match the leader's log.

    On rejection ``rejected_index`` is the ``prev_index`` that failed, and
    ``conflict_index``/``conflict_term`` are the fast back-off hint (Raft §5.3,
    etcd's findConflictByTerm): the largest index <= rejected_index whose term
    is <= the leader's ``prev_term``, and that term.
    """

    term: int
    src: str
    dst: str
    success: bool
    match_index: int = 0
    rejected_index: int = 0
    conflict_index: int = 0
    conflict_term: int = 0

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_bool(self.success, "success")
        _check_index(self.match_index, "match_index")
        _check_index(self.rejected_index, "rejected_index")
        _check_index(self.conflict_index, "conflict_index")
        _check_index(self.conflict_term, "conflict_term")


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """An empty AppendEntries (Raft §5.2); ``commit`` is min(follower match, leader commit), ``context`` a read tag."""

    term: int
    src: str
    dst: str
    commit: int
    context: bytes = b""

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_index(self.commit, "commit")
        _check_bytes(self.context, "context")


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatResponse:
    term: int
    src: str
    dst: str
    context: bytes = b""

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_bytes(self.context, "context")


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallSnapshot:
    """Raft §7 InstallSnapshot, one chunk: ``data`` holds bytes [offset, offset + len) of the snapshot."""

    term: int
    src: str
    dst: str
    metadata: SnapshotMetadata
    offset: int
    data: bytes
    done: bool

    def __post_init__(self) -> None:
        _check_envelope(self)
        if type(self.metadata) is not SnapshotMetadata:
            raise MalformedMessage("metadata", f"expected SnapshotMetadata, got {type(self.metadata).__name__}")
        if self.metadata.index == 0:
            raise MalformedMessage("metadata.index", "expected a snapshot index > 0")
        _check_index(self.offset, "offset")
        _check_bytes(self.data, "data")
        _check_bool(self.done, "done")


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallSnapshotResponse:
    """Acknowledges chunks: the follower holds ``offset`` bytes of the snapshot at ``index``; send from there."""

    term: int
    src: str
    dst: str
    index: int
    offset: int

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_index(self.index, "index")
        _check_index(self.offset, "offset")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadIndexRequest:
    """A follower's linearizable read (thesis §6.4), forwarded to the leader."""

    term: int
    src: str
    dst: str
    context: bytes

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_bytes(self.context, "context")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadIndexResponse:
    """The leader's answer: serve the read tagged ``context`` once applied >= ``index``."""

    term: int
    src: str
    dst: str
    index: int
    context: bytes

    def __post_init__(self) -> None:
        _check_envelope(self)
        _check_index(self.index, "index")
        _check_bytes(self.context, "context")


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutNow:
    """Leadership transfer (thesis §3.10): start an election now, without pre-vote or lease checks."""

    term: int
    src: str
    dst: str

    def __post_init__(self) -> None:
        _check_envelope(self)


Message = Union[
    RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse, Heartbeat, HeartbeatResponse,
    InstallSnapshot, InstallSnapshotResponse, ReadIndexRequest, ReadIndexResponse, TimeoutNow,
]

# Field kinds for the codec; the transition from wire to object is data (STYLE: tables as data).
_INT, _STR, _BOOL, _BYTES, _ENTRIES, _META = "int", "str", "bool", "bytes", "entries", "metadata"
_COMMON = (("term", _INT), ("src", _STR), ("dst", _STR))
_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {
    RequestVote: _COMMON + (("last_log_index", _INT), ("last_log_term", _INT), ("pre_vote", _BOOL),
                            ("leadership_transfer", _BOOL)),
    RequestVoteResponse: _COMMON + (("granted", _BOOL), ("pre_vote", _BOOL)),
    AppendEntries: _COMMON + (("prev_index", _INT), ("prev_term", _INT), ("entries", _ENTRIES), ("commit", _INT)),
    AppendEntriesResponse: _COMMON + (("success", _BOOL), ("match_index", _INT), ("rejected_index", _INT),
                                      ("conflict_index", _INT), ("conflict_term", _INT)),
    Heartbeat: _COMMON + (("commit", _INT), ("context", _BYTES)),
    HeartbeatResponse: _COMMON + (("context", _BYTES),),
    InstallSnapshot: _COMMON + (("metadata", _META), ("offset", _INT), ("data", _BYTES), ("done", _BOOL)),
    InstallSnapshotResponse: _COMMON + (("index", _INT), ("offset", _INT)),
    ReadIndexRequest: _COMMON + (("context", _BYTES),),
    ReadIndexResponse: _COMMON + (("index", _INT), ("context", _BYTES)),
    TimeoutNow: _COMMON,
}
MESSAGE_TYPES: dict[str, type] = {cls.__name__: cls for cls in _FIELDS}


def _encode_entry(entry: Entry) -> list[Any]:
    return [entry.term, entry.index, entry.type.value, bytes(entry.data)]


def _encode_metadata(metadata: SnapshotMetadata) -> dict[str, Any]:
    conf = metadata.conf_state
    return {"index": metadata.index, "term": metadata.term,
            "voters": list(conf.voters), "learners": list(conf.learners)}


def encode_message(msg: Message) -> dict[str, Any]:
    """The wire form of `msg`: a dict of plain values with ``"type"`` the class name."""
    fields = _FIELDS.get(type(msg))
    if fields is None:
        raise TypeError(f"not a consensus message: {type(msg).__name__}")
    out: dict[str, Any] = {"type": type(msg).__name__}
    for name, kind in fields:
        value = getattr(msg, name)
        if kind == _ENTRIES:
            value = [_encode_entry(entry) for entry in value]
        elif kind == _META:
            value = _encode_metadata(value)
        elif kind == _BYTES:
            value = bytes(value)
        out[name] = value
    return out


def _int(value: Any, field: str) -> int:
    if type(value) is not int or value < 0:
        raise MalformedMessage(field, f"expected int >= 0, got {value!r}")
    return value


def _str(value: Any, field: str) -> str:
    if type(value) is not str or not value:
        raise MalformedMessage(field, f"expected a non-empty str, got {value!r}")
    return value


def _bytes(value: Any, field: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise MalformedMessage(field, f"expected bytes, got {type(value).__name__}")
    return bytes(value)


def _bool(value: Any, field: str) -> bool:
    if type(value) is not bool:
        raise MalformedMessage(field, f"expected bool, got {value!r}")
    return value


def _ids(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise MalformedMessage(field, f"expected a list of ids, got {type(value).__name__}")
    ids = tuple(_str(item, f"{field}[{i}]") for i, item in enumerate(value))
    if list(ids) != sorted(set(ids)):
        raise MalformedMessage(field, "expected sorted, distinct ids")
    return ids


def _decode_entries(value: Any, field: str) -> tuple[Entry, ...]:
    if not isinstance(value, (list, tuple)):
        raise MalformedMessage(field, f"expected a list, got {type(value).__name__}")
    entries = []
    for i, item in enumerate(value):
        path = f"{field}[{i}]"
        if not isinstance(item, (list, tuple)) or len(item) != 4:
            raise MalformedMessage(path, "expected [term, index, type, data]")
        kind = item[2]
        if type(kind) is not int or kind not in (0, 1):
            raise MalformedMessage(f"{path}.type", f"expected 0 (NORMAL) or 1 (CONF_CHANGE), got {kind!r}")
        index = _int(item[1], f"{path}.index")
        if index == 0:
            raise MalformedMessage(f"{path}.index", "expected int >= 1, got 0")
        entries.append(Entry(term=_int(item[0], f"{path}.term"), index=index,
                             type=EntryType(kind), data=_bytes(item[3], f"{path}.data")))
    return tuple(entries)


def _decode_metadata(value: Any, field: str) -> SnapshotMetadata:
    if not isinstance(value, dict) or set(value) != {"index", "term", "voters", "learners"}:
        raise MalformedMessage(field, "expected a map of index, term, voters, learners")
    voters = _ids(value["voters"], f"{field}.voters")
    learners = _ids(value["learners"], f"{field}.learners")
    if set(voters) & set(learners):
        raise MalformedMessage(field, "voters and learners must be disjoint")
    return SnapshotMetadata(index=_int(value["index"], f"{field}.index"), term=_int(value["term"], f"{field}.term"),
                            conf_state=ConfState(voters=voters, learners=learners))


_DECODERS = {_INT: _int, _STR: _str, _BOOL: _bool, _BYTES: _bytes, _ENTRIES: _decode_entries, _META: _decode_metadata}


def decode_message(obj: Any) -> Message:
    """Check and build a message from its wire form; raises MalformedMessage(field, rule)."""
    if not isinstance(obj, dict):
        raise MalformedMessage("message", f"expected a map, got {type(obj).__name__}")
    name = obj.get("type")
    cls = MESSAGE_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise MalformedMessage("type", f"expected one of {sorted(MESSAGE_TYPES)}, got {name!r}")
    fields = _FIELDS[cls]
    expected = {"type"} | {field for field, _ in fields}
    if set(obj) != expected:
        missing, extra = sorted(expected - set(obj)), sorted(set(obj) - expected, key=repr)
        raise MalformedMessage(name, f"missing keys {missing}, unknown keys {extra}")
    values = {field: _DECODERS[kind](obj[field], field) for field, kind in fields}
    if cls is AppendEntries:
        if values["prev_term"] > values["term"]:
            raise MalformedMessage("prev_term", "expected <= term")
        for offset, entry in enumerate(values["entries"]):
            if entry.index != values["prev_index"] + 1 + offset:
                raise MalformedMessage(f"entries[{offset}].index", "expected prev_index + 1 + position")
            previous = values["entries"][offset - 1].term if offset else values["prev_term"]
            if entry.term > values["term"] or entry.term < previous:
                raise MalformedMessage(f"entries[{offset}].term",
                                       "expected terms non-decreasing from prev_term and <= message term")
    elif cls is InstallSnapshot and values["metadata"].index == 0:
        raise MalformedMessage("metadata.index", "expected a snapshot index > 0")
    return cls(**values)
