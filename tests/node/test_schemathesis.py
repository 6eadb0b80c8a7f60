"""The node's own OpenAPI, fuzzed by schemathesis (the standard for this: it generates requests
from the schema, valid and not): whatever it sends, no answer is a 5xx, and every error is the
one error shape ``{error, message, field?}``. Bounded (a fixed number of examples per route) so
it stays in the default run; the outside review ran 10,959 requests the same way.

Over a real ledger loaded with the sample organisation (tests/node/service_double.py), through
the real app, in process (ASGI)."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from node.api import create_app

from .test_api import world  # noqa: F401  (the fixture)

EXAMPLES = 15  # per route, method and mode (positive, negative)


def _operations(app) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_no_request_gets_a_5xx_and_every_error_has_the_one_shape(world):  # noqa: F811
    """Every operation of the schema, positive and negative cases (schemathesis's generation modes)."""
    _, _, service, _ = world
    app = create_app(service)
    operations = _operations(app)
    assert len(operations) >= 10  # every route of the API is in the schema
    seen: dict[str, set[int]] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case) -> None:
                response = case.call()
                seen.setdefault(operation.label, set()).add(response.status_code)
                assert response.status_code < 500, (f"{case.method} {case.formatted_path} {case.query} -> "
                                                    f"{response.status_code}: {response.text[:500]}")
                content_type = (response.headers.get("content-type") or [""])[0]
                if response.status_code >= 400 and content_type.startswith("application/json"):
                    body = json.loads(response.text)
                    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
                    assert "Traceback" not in response.text

            try:
                check()
            except Unsatisfiable:  # no way to break this operation's schema (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert any(code >= 400 for codes in seen.values() for code in codes)  # the negative cases were refused
