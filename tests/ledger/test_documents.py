"""ledger/documents.py: shapes, body schemas with field paths, canonical bytes and signatures."""

from __future__ import annotations

import copy
import hashlib
import unicodedata

import msgpack
import pytest

from ledger.documents import (DOC_TYPES, Document, Envelope, Signature, body_commitment, confidential_body,
                              make_envelope, opens_commitment, sign_document)
from ledger.encoding import canonical
from ledger.errors import BadSignature, InvalidInput, NotCanonical
from ledger.schemas import BODY_SCHEMAS, MAX_COUNT, REF_FIELDS
from ledger.timefmt import MAX_MS, MIN_MS, parse_time
from tests.ledger.factory import CELLS, make_org

ORG = make_org()


@pytest.fixture(scope="module")
def samples():
    return {e.doc.type: e for e in ORG.every_type()}


def test_every_type_has_a_valid_sample(samples):
    assert sorted(samples) == sorted(DOC_TYPES) == sorted(BODY_SCHEMAS)
    for env in samples.values():
        data = env.to_bytes()
        again = Envelope.from_bytes(data)
        again.verify_signatures()
        assert again == env and again.to_bytes() == data
        assert again.doc_id == hashlib.sha256(canonical(env.doc.to_obj())).hexdigest()
        assert again.doc.canonical == env.doc.canonical


def test_from_bytes_reuses_input_bytes(samples):
    data = samples["minutes"].to_bytes()
    env = Envelope.from_bytes(data)
    assert env.to_bytes() is not None and env.to_bytes() == data
    assert env.doc._canonical == canonical(env.doc.to_obj())


def _body_error(type_, body):
    with pytest.raises(InvalidInput) as info:
        Document(v=1, type=type_, org="central", body=body, refs=(), created_at=1, nonce=bytes(16))
    return info.value


def _minutes_body():
    return copy.deepcopy(ORG.minutes(CELLS[0]).doc.body)


@pytest.mark.parametrize("mutate, field, rule", [
    (lambda b: b["votes"].extend([b["votes"][0], dict(b["votes"][0], **{"for": -1})]), "body.votes[2].for",
     "expected int >= 0, got -1"),
    (lambda b: b.pop("chair"), "body.chair", "missing required field"),
    (lambda b: b.update(kind="secret"), "body.kind", "expected one of regular, thematic, extraordinary"),
    (lambda b: b.update(colour="red", size=1), "body", "unknown field(s): colour, size"),
    (lambda b: b["attendees"][1].update(present="yes"), "body.attendees[1].present", "expected true or false"),
    (lambda b: b["attendees"][0].update(member="bad id!"), "body.attendees[0].member", "member id"),
    (lambda b: b.update(held_at=1.5), "body.held_at", "unix milliseconds"),
    (lambda b: b.update(agenda="plan"), "body.agenda", "expected a list"),
])
def test_minutes_schema_errors_name_the_path(mutate, field, rule):
    body = _minutes_body()
    mutate(body)
    err = _body_error("minutes", body)
    assert err.field == field and rule in err.rule, err.message


def test_cross_field_rules():
    res = copy.deepcopy(ORG.resolution(CELLS[0]).doc.body)
    res["tally"] = {"for": 3, "against": 2, "abstain": 1, "eligible": 5}
    assert _body_error("resolution", res).field == "body.tally"
    ms = {"member": "m1", "change": "transferred", "effective_at": 1, "reason": "r"}
    assert _body_error("member_status", ms).field == "body.to_org"
    ms = {"member": "m1", "change": "award", "effective_at": 1, "reason": "r", "to_org": "central"}
    assert _body_error("member_status", ms).field == "body.to_org"
    ms = {"member": "m1", "change": "award", "effective_at": 1, "reason": "r", "public_key": bytes(32)}
    assert _body_error("member_status", ms).field == "body.public_key"
    f = {"inspection_id": "1", "subject": {"unit": "central", "member": "m1"}, "finding": "x", "severity": "info",
         "recommendations": []}
    assert _body_error("inspection_finding", f).field == "body.subject"
    assert _body_error("org_unit", {"action": "create", "path": "central/x"}).field == "body.name"
    assert _body_error("org_unit", {"action": "close", "path": "central/x", "name": "n"}).field == "body"
    assert _body_error("node", {"action": "add", "node_id": "n9"}).field == "body.public_key"
    assert _body_error("member_key", {"action": "add", "member": "m1", "public_key": b"x"}).field == "body.public_key"
    assert _body_error("role", {"action": "grant", "member": "m1", "role": "king", "unit": "central"}).field == "body.role"


def test_confidential_bodies():
    body = {"confidential": True, "commitment": bytes(32), "recipients": ["m1"], "meta": {"kind": "regular"}}
    for t in ("minutes", "resolution", "inspection_finding"):
        Document(v=1, type=t, org="central", body=body, refs=(), created_at=1, nonce=bytes(16))
    assert _body_error("role", body).field == "body.confidential"
    assert _body_error("minutes", dict(body, confidential=False)).field == "body.confidential"
    assert _body_error("minutes", dict(body, recipients=[])).field == "body.recipients"
    assert _body_error("minutes", dict(body, extra=1)).rule == "unknown field(s): extra"
    err = _body_error("minutes", dict(body, recipients=["m1", "m2", "m1"]))
    assert err.field == "body.recipients[2]" and "duplicate recipient 'm1'" in err.rule


def test_repeats_are_named():
    body = _minutes_body()
    body["attendees"].append(dict(body["attendees"][1]))
    err = _body_error("minutes", body)
    assert err.field == f"body.attendees[{len(body['attendees']) - 1}].member", err.message
    assert "duplicate attendee" in err.rule and "first at [1]" in err.rule
    obj = ORG.resolution(CELLS[0]).doc.to_obj()
    obj["refs"] = ["a" * 64, "b" * 64, "a" * 64]
    with pytest.raises(InvalidInput) as info:
        Document.from_obj(obj)
    assert info.value.field == "doc.refs[2]" and "duplicate ref" in info.value.rule


@pytest.mark.parametrize("field, value, path", [
    ("v", 2, "doc.v"), ("type", "memo", "doc.type"), ("type", ["minutes"], "doc.type"), ("type", {"a": 1}, "doc.type"),
    ("org", "Central", "doc.org"), ("org", "a//b", "doc.org"),
    ("refs", ["abc"], "doc.refs[0]"), ("created_at", -1, "doc.created_at"),
    ("created_at", 0, "doc.created_at"), ("created_at", MAX_MS + 1, "doc.created_at"),
    ("created_at", 2**64 - 1, "doc.created_at"), ("nonce", bytes(15), "doc.nonce"),
])
def test_document_fields(field, value, path):
    obj = ORG.resolution(CELLS[0]).doc.to_obj()
    obj[field] = value
    with pytest.raises(InvalidInput) as info:
        Document.from_obj(obj)
    assert info.value.field == path


def test_times_before_1970_are_recorded():
    """Issue 7 fault 6: a member admitted in 1965 could not be recorded (time had to be >= 0)."""
    admitted_1965 = parse_time("1965-03-01", tz="Asia/Ho_Chi_Minh")
    body = {"member": "m0001", "change": "admitted", "effective_at": admitted_1965, "reason": "Kết nạp"}
    doc = Document(v=1, type="member_status", org="central", body=body, refs=(), created_at=1, nonce=bytes(16))
    assert Envelope.from_bytes(make_envelope(doc, [("m0001", bytes(32))]).to_bytes()).doc.body == body
    for t in (MIN_MS, MAX_MS, -1, 0):
        Document(v=1, type="minutes", org="central", body=dict(_minutes_body(), held_at=t), refs=(), created_at=1,
                 nonce=bytes(16))


@pytest.mark.parametrize("value", [MAX_MS + 1, MIN_MS - 1, 2**64 - 1, -(2**63)])
def test_times_past_year_9999_are_refused_naming_the_field(value):
    """Issue 13 item 6: time fields accepted values up to 2^64 - 1."""
    body = _minutes_body()
    body["scheduled_for"] = value
    err = _body_error("minutes", body)
    assert err.field == "body.scheduled_for" and "out of range" in err.rule, err.message
    res = copy.deepcopy(ORG.resolution(CELLS[0]).doc.body)
    res["tasks"][0]["due"] = value
    assert _body_error("resolution", res).field == "body.tasks[0].due"


def test_counts_are_bounded():
    body = _minutes_body()
    body["votes"][0]["against"] = MAX_COUNT + 1
    err = _body_error("minutes", body)
    assert err.field == "body.votes[0].against" and f"int <= {MAX_COUNT}" in err.rule
    body["votes"][0]["against"] = MAX_COUNT
    body["votes"][0]["for"] = body["votes"][0]["abstain"] = 0
    Document(v=1, type="minutes", org="central", body=body, refs=(), created_at=1, nonce=bytes(16))


def test_cross_field_rules_of_the_new_types():
    entry = {"member": "m1", "kind": "education", "title": "Cử nhân", "started_at": 10, "completed_at": 5}
    assert _body_error("profile_entry", entry).field == "body.completed_at"
    amend = {"target": "a" * 64, "action": "withdraw", "reason": "r", "body": {}}
    assert _body_error("amendment", amend).field == "body.body"
    directive = copy.deepcopy(ORG.directive(CELLS[0]).doc.body)
    assert _body_error("directive", dict(directive, addressed={"scope": "units", "units": []})).field == \
        "body.addressed.units"
    assert _body_error("directive", dict(directive, addressed={"scope": "units", "units": ["a", "a"]})).field == \
        "body.addressed.units[1]"
    assert _body_error("directive", dict(directive, addressed={"scope": "subtree", "kind": "cell"})).field == \
        "body.addressed.kind"
    assert _body_error("directive", dict(directive, report_due=directive["ack_due"] - 1)).field == "body.ack_due"
    poll = copy.deepcopy(ORG.poll(CELLS[0]).doc.body)
    assert _body_error("poll", dict(poll, options=["yes"])).field == "body.options"
    assert _body_error("poll", dict(poll, options=["yes", "no", "yes"])).field == "body.options[2]"
    assert _body_error("poll", dict(poll, quorum={"num": 3, "den": 2, "strict": False})).field == "body.quorum"
    assert _body_error("poll", dict(poll, quorum={"num": 0, "den": 0, "strict": False})).field == "body.quorum"


@pytest.mark.parametrize("type_", sorted(REF_FIELDS))
def test_answers_and_corrections_ref_exactly_what_they_answer(samples, type_):
    obj = samples[type_].doc.to_obj()
    target = obj["body"][REF_FIELDS[type_]]
    assert obj["refs"] == [target]
    for refs in ([], ["b" * 64], [target, "b" * 64]):
        with pytest.raises(InvalidInput) as info:
            Document.from_obj(dict(obj, refs=refs))
        assert info.value.field == "doc.refs"


def test_document_missing_and_unknown_fields():
    obj = ORG.resolution(CELLS[0]).doc.to_obj()
    with pytest.raises(InvalidInput, match="doc.nonce: missing"):
        Document.from_obj({k: v for k, v in obj.items() if k != "nonce"})
    with pytest.raises(InvalidInput, match="unknown field"):
        Document.from_obj(dict(obj, extra=1))


def test_nfc_rejected_and_new_normalises():
    nfd = unicodedata.normalize("NFD", "Nguyễn Văn An")
    body = copy.deepcopy(ORG.resolution(CELLS[0]).doc.body)
    body["title"] = nfd
    obj = dict(ORG.resolution(CELLS[0]).doc.to_obj(), body=body)
    with pytest.raises(NotCanonical) as info:
        Document.from_obj(obj)
    assert info.value.field == "body.title"
    doc = Document.new(type="resolution", org="central/p1", body=body, created_at=5, nonce=bytes(16))
    assert doc.body["title"] == unicodedata.normalize("NFC", nfd)
    assert Document.new(type="resolution", org="central/p1", body=body).nonce != doc.nonce


def test_non_canonical_envelope_bytes_rejected(samples):
    obj = msgpack.unpackb(samples["role"].to_bytes(), raw=False)
    shuffled = msgpack.packb({"sigs": obj["sigs"], "doc": obj["doc"]}, use_bin_type=True)
    with pytest.raises(NotCanonical):
        Envelope.from_bytes(shuffled)
    with pytest.raises(NotCanonical):
        Envelope.from_bytes(samples["role"].to_bytes() + b"\x00")


def test_envelope_shape_errors(samples):
    obj = msgpack.unpackb(samples["role"].to_bytes(), raw=False)
    obj["sigs"][0]["sig"] = b"short"
    with pytest.raises(InvalidInput) as info:
        Envelope.from_bytes(canonical(obj))
    assert info.value.field == "sigs[0].sig"
    with pytest.raises(InvalidInput):
        Envelope.from_bytes(canonical({"doc": obj["doc"]}))


def test_verify_signatures(samples):
    env = samples["minutes"]
    env.verify_signatures()
    with pytest.raises(BadSignature, match="no signature"):
        Envelope(doc=env.doc, sigs=()).verify_signatures()
    s = env.sigs[0]
    with pytest.raises(BadSignature, match="more than once"):
        Envelope(doc=env.doc, sigs=(s, s)).verify_signatures()
    other = ORG.resolution(CELLS[0])
    forged = Signature(signer=s.signer, key=s.key, sig=sign_document(other.doc, s.signer, ORG.seeds[s.signer]).sig)
    with pytest.raises(BadSignature) as info:
        Envelope(doc=env.doc, sigs=(forged,)).verify_signatures()
    assert info.value.signer == s.signer
    again = make_envelope(env.doc, [(s.signer, ORG.seeds[s.signer])])
    assert again.sigs[0] == s  # Ed25519 is deterministic


@pytest.mark.parametrize("module", ["ledger.keys", "ledger.documents", "ledger.schemas", "ledger.genesis",
                                    "ledger.registry"])
def test_all_is_accurate(module):
    import importlib
    import inspect

    mod = importlib.import_module(module)
    assert all(hasattr(mod, name) for name in mod.__all__)
    public = {n for n, v in vars(mod).items() if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
              and v.__module__ == module}
    assert public <= set(mod.__all__), public - set(mod.__all__)


def test_confidential_commitment_opens_only_with_body_and_salt():
    secret = _minutes_body()
    salt = bytes(range(32))
    body = confidential_body("minutes", secret, salt=salt, recipients=["m1", "m2"], meta={"kind": "regular"})
    env = ORG.envelope("minutes", CELLS[0], body, [ORG.secretary(CELLS[0])])
    doc = Envelope.from_bytes(env.to_bytes()).doc
    assert opens_commitment(doc, secret, salt)
    assert not opens_commitment(doc, secret, bytes(32))  # wrong salt
    assert not opens_commitment(doc, dict(secret, text="edited"), salt)  # tampered body
    assert not opens_commitment(doc, {"not": "a body"}, salt)  # invalid body: False, never raises
    assert not opens_commitment(ORG.minutes(CELLS[0]).doc, secret, salt)  # a public doc opens nothing
    with pytest.raises(InvalidInput) as info:
        body_commitment("minutes", dict(secret, held_at=2**63), salt)
    assert info.value.field == "body.held_at"
    with pytest.raises(InvalidInput, match="cannot be confidential"):
        body_commitment("role", {"action": "grant", "member": "m1", "role": "inspector", "unit": "central"}, salt)
    with pytest.raises(InvalidInput) as info:
        body_commitment("minutes", secret, b"short")
    assert info.value.field == "salt"
