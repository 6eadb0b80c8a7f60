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
from ledger.schemas import BODY_SCHEMAS
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
    ("created_at", 0, "doc.created_at"), ("nonce", bytes(15), "doc.nonce"),
])
def test_document_fields(field, value, path):
    obj = ORG.resolution(CELLS[0]).doc.to_obj()
    obj[field] = value
    with pytest.raises(InvalidInput) as info:
        Document.from_obj(obj)
    assert info.value.field == path


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
        body_commitment("minutes", dict(secret, held_at=(1 << 64) - 1), salt)
    assert info.value.field == "body.held_at"
    with pytest.raises(InvalidInput, match="cannot be confidential"):
        body_commitment("role", {"action": "grant", "member": "m1", "role": "inspector", "unit": "central"}, salt)
    with pytest.raises(InvalidInput) as info:
        body_commitment("minutes", secret, b"short")
    assert info.value.field == "salt"
