"""The message codec: every message round-trips; malformed wire dicts are rejected with field and rule."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from consensus import (AppendEntries, AppendEntriesResponse, ConfChange, ConfChangeType, ConfState, Entry,
                       EntryType, HardState, Heartbeat, HeartbeatResponse, InstallSnapshot, InstallSnapshotResponse,
                       ReadIndexRequest, ReadIndexResponse, ReadState, RequestVote, RequestVoteResponse,
                       SnapshotMetadata,
                       TimeoutNow, decode_message,
                       encode_message)
from consensus.errors import MalformedMessage

node_ids = st.sampled_from(["n1", "n2", "n3", "node-é"])
index = st.integers(0, 2**63 - 1)
small = st.integers(0, 1000)


@st.composite
def append_entries(draw):
    term = draw(st.integers(1, 1000))
    prev_index = draw(small)
    terms = sorted(draw(st.lists(st.integers(1, term), max_size=5)))
    entries = tuple(Entry(term=t, index=prev_index + 1 + i, type=draw(st.sampled_from(EntryType)),
                          data=draw(st.binary(max_size=20))) for i, t in enumerate(terms))
    return AppendEntries(term=term, src=draw(node_ids), dst=draw(node_ids), prev_index=prev_index,
                         prev_term=draw(st.integers(0, terms[0] if terms else term)), entries=entries,
                         commit=draw(small))


conf_states = st.builds(lambda v, l: ConfState(voters=tuple(sorted(v)), learners=tuple(sorted(l - v))),
                        st.sets(node_ids, max_size=3), st.sets(node_ids, max_size=2))
metadata = st.builds(SnapshotMetadata, index=st.integers(1, 10**9), term=small, conf_state=conf_states)

messages = st.one_of(
    st.builds(RequestVote, term=index, src=node_ids, dst=node_ids, last_log_index=index, last_log_term=index,
              pre_vote=st.booleans(), leadership_transfer=st.booleans()),
    st.builds(RequestVoteResponse, term=index, src=node_ids, dst=node_ids, granted=st.booleans(),
              pre_vote=st.booleans()),
    append_entries(),
    st.builds(AppendEntriesResponse, term=index, src=node_ids, dst=node_ids, success=st.booleans(),
              match_index=index, rejected_index=index, conflict_index=index, conflict_term=index),
    st.builds(Heartbeat, term=index, src=node_ids, dst=node_ids, commit=index, context=st.binary(max_size=8)),
    st.builds(HeartbeatResponse, term=index, src=node_ids, dst=node_ids, context=st.binary(max_size=8)),
    st.builds(InstallSnapshot, term=index, src=node_ids, dst=node_ids, metadata=metadata, offset=index,
              data=st.binary(max_size=32), done=st.booleans()),
    st.builds(InstallSnapshotResponse, term=index, src=node_ids, dst=node_ids, index=index, offset=index),
    st.builds(ReadIndexRequest, term=index, src=node_ids, dst=node_ids, context=st.binary(max_size=8)),
    st.builds(ReadIndexResponse, term=index, src=node_ids, dst=node_ids, index=index,
              context=st.binary(max_size=8)),
    st.builds(TimeoutNow, term=index, src=node_ids, dst=node_ids),
)


def _plain(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (int, str, bytes, bool)


@given(messages)
def test_every_message_round_trips(msg):
    wire = encode_message(msg)
    assert _plain(wire)
    assert decode_message(wire) == msg


def test_round_trips_through_msgpack():
    msgpack = pytest.importorskip("msgpack")
    msg = AppendEntries(term=3, src="n1", dst="n2", prev_index=4, prev_term=2,
                        entries=(Entry(term=3, index=5, data=b"\x00\xff"),), commit=4)
    wire = msgpack.unpackb(msgpack.packb(encode_message(msg), use_bin_type=True), raw=False)
    assert decode_message(wire) == msg


GOOD = encode_message(AppendEntries(term=3, src="n1", dst="n2", prev_index=4, prev_term=2,
                                    entries=(Entry(term=3, index=5, data=b"x"), Entry(term=3, index=6)), commit=4))


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(type="AppendEntry"), "type"),
    (lambda d: d.pop("commit"), "AppendEntries"),
    (lambda d: d.update(extra=1), "AppendEntries"),
    (lambda d: d.update(term=-1), "term"),
    (lambda d: d.update(term="3"), "term"),
    (lambda d: d.update(term=True), "term"),
    (lambda d: d.update(src=""), "src"),
    (lambda d: d.update(dst=7), "dst"),
    (lambda d: d.update(entries="nope"), "entries"),
    (lambda d: d.update(entries=[[3, 5, 0]]), "entries[0]"),
    (lambda d: d.update(entries=[[3, 5, 7, b""]]), "entries[0].type"),
    (lambda d: d.update(entries=[[3, 5, 0, "str"]]), "entries[0].data"),
    (lambda d: d.update(entries=[[3, 6, 0, b""]]), "entries[0].index"),   # does not follow prev_index
    (lambda d: d.update(entries=[[4, 5, 0, b""]]), "entries[0].term"),    # newer than the message
    (lambda d: d.update(prev_term=9), "prev_term"),
    (lambda d: d.update(entries=[[3, 5, 0, b""], [2, 6, 0, b""]]), "entries[1].term"),  # terms go down
    (lambda d: d.update(prev_term=3, entries=[[2, 5, 0, b""]]), "entries[0].term"),    # older than prev_term
    (lambda d: d.update(entries=[[3, 0, 0, b""]], prev_index=0), "entries[0].index"),
])
def test_malformed_append_entries_are_rejected(change, field):
    wire = dict(GOOD)
    change(wire)
    with pytest.raises(MalformedMessage) as caught:
        decode_message(wire)
    assert caught.value.field == field


@pytest.mark.parametrize("wire, field", [
    ([], "message"),
    ({"type": 3}, "type"),
    ({**encode_message(InstallSnapshot(term=1, src="a", dst="b", metadata=SnapshotMetadata(index=1), offset=0,
                                       data=b"", done=True)), "metadata": {"index": 1}}, "metadata"),
    ({**encode_message(InstallSnapshot(term=1, src="a", dst="b", metadata=SnapshotMetadata(index=1), offset=0,
                                       data=b"", done=True)),
      "metadata": {"index": 1, "term": 1, "voters": ["b", "a"], "learners": []}}, "metadata.voters"),
    ({**encode_message(InstallSnapshot(term=1, src="a", dst="b", metadata=SnapshotMetadata(index=1), offset=0,
                                       data=b"", done=True)),
      "metadata": {"index": 1, "term": 1, "voters": ["a"], "learners": ["a"]}}, "metadata"),
    ({**encode_message(RequestVote(term=1, src="a", dst="b", last_log_index=0, last_log_term=0)),
      "pre_vote": 1}, "pre_vote"),
])
def test_other_malformed_messages_are_rejected(wire, field):
    with pytest.raises(MalformedMessage) as caught:
        decode_message(wire)
    assert caught.value.field == field


@given(st.sampled_from(ConfChangeType), node_ids, st.binary(max_size=16))
def test_conf_change_round_trips(kind, node_id, context):
    cc = ConfChange(type=kind, node_id=node_id, context=context)
    assert ConfChange.from_bytes(cc.to_bytes()) == cc


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x09\x00\x01a", b"\x00\x00\x05ab", b"\x00\x00\x00",
                                  b"\x00\x00\x01\xff"])
def test_malformed_conf_changes_are_rejected(data):
    with pytest.raises(MalformedMessage):
        ConfChange.from_bytes(data)


@pytest.mark.parametrize("build, field", [
    (lambda: Entry(term=-1, index=1), "entry.term"),
    (lambda: Entry(term=1, index=0), "entry.index"),
    (lambda: Entry(term=1, index=1, data="text"), "entry.data"),
    (lambda: Entry(term=1, index=1, type=0), "entry.type"),
    (lambda: HardState(term=1, vote="", commit=0), "hard_state.vote"),
    (lambda: HardState(term=1, commit=-2), "hard_state.commit"),
    (lambda: ConfState(voters=("n1", "n1")), "conf_state.voters"),
    (lambda: ConfState(voters=("n1",), learners=("n1",)), "conf_state"),
    (lambda: ConfState(voters="n1"), "conf_state.voters"),
    (lambda: ConfChange(type=ConfChangeType.ADD_VOTER, node_id=""), "conf_change.node_id"),
    (lambda: SnapshotMetadata(index=-1), "metadata.index"),
    (lambda: ReadState(index=1, context="ctx"), "read_state.context"),
    (lambda: RequestVote(term=1, src="n1", dst="n2", last_log_index=-1, last_log_term=0), "last_log_index"),
    (lambda: RequestVoteResponse(term=1, src="n1", dst="n2", granted=1), "granted"),
    (lambda: AppendEntries(term=2, src="n1", dst="n2", prev_index=4, prev_term=1,
                           entries=(Entry(term=2, index=6),), commit=0), "entries[0].index"),
    (lambda: AppendEntries(term=2, src="n1", dst="n2", prev_index=4, prev_term=1,
                           entries=(Entry(term=2, index=5), Entry(term=2, index=7)), commit=0), "entries[1].index"),
    (lambda: AppendEntries(term=2, src="n1", dst="n2", prev_index=4, prev_term=1,
                           entries=[Entry(term=2, index=5)], commit=0), "entries"),
    (lambda: AppendEntries(term=2, src="n1", dst="n2", prev_index=4, prev_term=1,
                           entries=(Entry(term=3, index=5),), commit=0), "entries[0].term"),
    (lambda: AppendEntries(term=2, src="n1", dst="n2", prev_index=4, prev_term=3, entries=(), commit=0),
     "prev_term"),
    (lambda: AppendEntriesResponse(term=2, src="n1", dst="n2", success=False, conflict_term=-1), "conflict_term"),
    (lambda: Heartbeat(term=2, src="n1", dst=None, commit=0), "dst"),
    (lambda: HeartbeatResponse(term=-2, src="n1", dst="n2"), "term"),
    (lambda: InstallSnapshot(term=2, src="n1", dst="n2", metadata=SnapshotMetadata(), offset=0, data=b"",
                             done=True), "metadata.index"),
    (lambda: InstallSnapshotResponse(term=2, src="n1", dst="n2", index=3, offset=-1), "offset"),
    (lambda: ReadIndexRequest(term=2, src="n1", dst="n2", context=None), "context"),
    (lambda: ReadIndexResponse(term=2, src="n1", dst="n2", index=True, context=b"c"), "index"),
    (lambda: TimeoutNow(term=2, src="", dst="n2"), "src"),
])
def test_records_and_messages_check_themselves(build, field):
    """Built in code, not decoded: the check in __post_init__ names the field and the rule (STYLE, h11 events)."""
    with pytest.raises(MalformedMessage) as caught:
        build()
    assert caught.value.field == field


def test_conf_state_ids_are_kept_sorted():
    conf = ConfState(voters=["n2", "n10", "n1"], learners=("n4",))
    assert conf.voters == ("n1", "n10", "n2") and conf == ConfState(voters=("n1", "n10", "n2"), learners=("n4",))
