"""Every route carries an access class, and every route that is not public
answers 401 to an unauthenticated request. The routes are taken from the
OpenAPI document (and the app's route table, for routes left out of it), so
a route added later cannot be left open by accident: it fails here until it
declares a class, and a content class is closed without a key."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from node.auth import Access

PUBLIC = {"public", "documents"}
CLASSES = {a.value for a in Access}


def _operations(app):
    schema = app.openapi()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def test_every_route_in_the_openapi_document_declares_a_class(world):
    undeclared = [f"{m} {p}" for p, m, op in _operations(world.app) if op.get("x-access") not in CLASSES]
    assert undeclared == []


def test_every_route_of_the_app_declares_a_class(world):
    """Routes kept out of the OpenAPI document (the web pages and their files) too."""
    undeclared = [r.path for r in world.app.routes
                  if isinstance(r, APIRoute) and (r.openapi_extra or {}).get("x-access") not in CLASSES]
    assert undeclared == []


def test_content_routes_need_a_signature_in_the_openapi_document(world):
    for path, method, op in _operations(world.app):
        if op["x-access"] in PUBLIC:
            assert "security" not in op, f"{method} {path}"
        else:
            assert op["security"] == [{"requestSignature": []}, {"session": []}], f"{method} {path}"
    schemes = world.app.openapi()["components"]["securitySchemes"]
    assert set(schemes) == {"requestSignature", "session"}


def _concrete(path: str, world) -> str:
    doc_id = world.service.ledger.block(1)["documents"][0]["doc_id"]
    values = {"doc_id": doc_id, "height": "1", "member_id": "m0012", "path": "central/p1", "path:path": "central/p1"}
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "x"), path)


def _queries(world) -> dict:
    """Required query parameters of public routes, with values that exist."""
    from ledger.jsonfmt import b64d
    from ledger.merkle import leaf_hash

    doc = world.service.ledger.document(world.service.ledger.block(1)["documents"][0]["doc_id"])
    return {"/v1/proofs/consistency": {"first": 1, "second": 1}, "/v1/search": {"q": "1"},
            "/v1/proofs/inclusion": {"doc_id": doc["doc_id"],
                                     "leaf_hash": leaf_hash(b64d(doc["envelope"], "envelope")).hex()}}


@pytest.mark.parametrize("who", [None, "bad"])
def test_unauthenticated_or_badly_signed_requests_to_closed_routes_get_401(world, who):
    client = world.client(None)
    headers = {} if who is None else {"Signature-Input": 'mb=("@method");created=1', "Signature": "mb=:AA==:"}
    checked = 0
    for path, method, op in _operations(world.app):
        if op["x-access"] in PUBLIC:
            continue
        r = client.request(method, _concrete(path, world), headers=headers)
        assert r.status_code == 401, f"{method} {path}: {r.status_code} {r.text[:200]}"
        assert r.json()["error"] == ("unauthenticated" if who is None else "bad_request_signature")
        checked += 1
    assert checked >= 8


def test_unauthenticated_message_names_what_is_missing(world):
    r = world.client(None).get(f"/v1/members/m0012")
    assert r.status_code == 401
    assert "Signature-Input" in r.json()["message"] and "keyid" in r.json()["message"]


def test_public_routes_answer_without_a_key(world):
    client = world.client(None)
    for path, method, op in _operations(world.app):
        if op["x-access"] != "public" or method != "GET":
            continue
        query = _queries(world).get(path)
        r = client.get(_concrete(path, world), params=query)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:200]}"
