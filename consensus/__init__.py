"""Raft consensus as a pure state machine (no I/O); see docs/interfaces.md and consensus/rawnode.py."""

from consensus.messages import (AppendEntries, AppendEntriesResponse, ConfChange, ConfChangeType, ConfState,
                                Entry, EntryType, HardState, Heartbeat, HeartbeatResponse, InstallSnapshot,
                                InstallSnapshotResponse, ReadIndexRequest,
                                ReadIndexResponse, ReadState, RequestVote, RequestVoteResponse,
                                Snapshot, SnapshotMetadata, TimeoutNow, decode_message, encode_message)
from consensus.raft import Role
from consensus.rawnode import Config, RawNode, Ready, SoftState, Status
from consensus.storage import LogStorage, MemoryLogStorage

__all__ = [
    # docs/interfaces.md
    "RawNode", "Config", "MemoryLogStorage", "LogStorage", "Ready", "SoftState", "HardState",
    "Entry", "EntryType", "ConfState", "ConfChange", "ConfChangeType", "Snapshot", "SnapshotMetadata", "ReadState",
    "Role", "Status", "encode_message", "decode_message",
    # messages (the ``Message`` union stays in consensus.messages: it is a type, not a message)
    "RequestVote", "RequestVoteResponse", "AppendEntries", "AppendEntriesResponse", "Heartbeat",
    "HeartbeatResponse", "InstallSnapshot", "InstallSnapshotResponse", "ReadIndexRequest", "ReadIndexResponse",
    "TimeoutNow",
]
