"""Every refusal of a submission names what it refuses: a table of hostile or
broken submissions, each with the status, the error code and the `field` the
answer must carry (README "The HTTP API", Errors). Over a real ledger
(tests/node/service_double.py) through the real app."""

from __future__ import annotations

import msgpack
import pytest

from ledger.encoding import canonical, decode_canonical
from ledger.keys import DOC_DOMAIN, public_key, sign
from ledger.timefmt import MAX_MS

from .test_api import _new_minutes, _sign, world  # noqa: F401  (world is a fixture)


def _envelope(org, label: str, **body_changes) -> dict:
    doc, signers = _new_minutes(org, label)
    doc["body"].update(body_changes)
    return decode_canonical(_sign(org, doc, signers))


def _signed(org, label: str, doc_changes: dict | None = None, **body_changes) -> bytes:
    """A correctly signed envelope whose doc has `doc_changes` and whose body has `body_changes`,
    signed by hand (the SDK would refuse to sign a document that breaks a rule)."""
    doc, signers = _new_minutes(org, label)
    doc.update(doc_changes or {})
    doc["body"].update(body_changes)
    message = canonical(doc)
    sigs = [{"key": public_key(org.seed_of(m)), "sig": sign(org.seed_of(m), DOC_DOMAIN, message), "signer": m}
            for m in signers]
    return canonical({"doc": doc, "sigs": sigs})


def _flip_sig(org) -> bytes:
    envelope = _envelope(org, "fields-badsig")
    sig = bytearray(envelope["sigs"][1]["sig"])
    sig[0] ^= 1
    envelope["sigs"][1]["sig"] = bytes(sig)
    return canonical(envelope)


def _foreign_key(org) -> bytes:
    """Signed correctly, but with a key the registry does not hold for that member."""
    from ledger.documents import Document, sign_document as sign_with_seed

    doc, signers = _new_minutes(org, "fields-foreignkey")
    envelope = decode_canonical(_sign(org, doc, signers))
    stranger = sign_with_seed(Document.from_obj(envelope["doc"]), signers[0], b"\x07" * 32)
    envelope["sigs"][0] = stranger.to_obj()
    return canonical(envelope)


def _with_extension(org) -> bytes:
    envelope = _envelope(org, "fields-ext")
    envelope["doc"]["body"]["text"] = msgpack.ExtType(7, b"x")
    return msgpack.packb(envelope, use_bin_type=True)


def _just_over_a_document(org) -> bytes:
    """Under the request limit (1 MiB + 128 KiB) but over the 1 MiB a document may take."""
    return _signed(org, "fields-big", text="x" * ((1 << 20) - 200), decisions=["y" * 4096])


def _nested_json(_org) -> tuple[bytes, str]:
    return b'{"envelope": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"


CASES = [
    # (name, body maker, status, code, field)
    ("signature that does not verify", _flip_sig, 401, "bad_signature", "sigs[1].sig"),
    ("key the registry does not hold", _foreign_key, 401, "bad_signature", "sigs[0].key"),
    ("msgpack extension type", _with_extension, 400, "not_canonical", "doc.body.text"),
    ("over 1 MiB, under the request limit", _just_over_a_document, 413, "too_large", "envelope"),
    ("JSON nested 100,000 deep", _nested_json, 400, "invalid_input", "body"),
    ("created_at past year 9999", lambda org: _signed(org, "fields-late", {"created_at": MAX_MS + 1}),
     400, "invalid_input", "doc.created_at"),
    ("a body time of 2**64-1", lambda org: _signed(org, "fields-u64", held_at=(1 << 64) - 1),
     400, "invalid_input", "body.held_at"),
]


@pytest.mark.parametrize("name,make,status,code,field", CASES, ids=[c[0] for c in CASES])
def test_every_refusal_names_its_field(world, name, make, status, code, field):  # noqa: F811
    org, _, service, client = world
    made = make(org)
    content, content_type = made if isinstance(made, tuple) else (made, "application/msgpack")
    height = service.ledger.height
    r = client.post("/v1/documents", content=content, headers={"Content-Type": content_type})
    assert (r.status_code, r.json().get("error"), r.json().get("field")) == (status, code, field), r.text
    assert "\n" not in r.json()["message"] and "Traceback" not in r.text
    assert service.ledger.height == height
