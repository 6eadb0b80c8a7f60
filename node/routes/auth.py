"""Routes for page login without sending a secret (README "Logging in to the pages").

The browser asks for a challenge, opens the member's key file locally (it
never leaves the machine: web/js/auth.js), signs
``b"minutebook/login/v1\\0" + challenge`` with Ed25519 and posts the
signature; the node checks it against the member's registered, unrevoked
keys and answers a session cookie (``mb_session``: HttpOnly,
SameSite=Strict, Secure over HTTPS, ``access.session_s`` long) that every
route honours as that member (node/auth.py). Logout closes the session.
A challenge is 32 random bytes, good once, for ``access.challenge_s``.

The login page itself is one of the web pages (``/login``,
node/routes/web.py, web/js/pages/login.js, with web/js/auth.js).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ledger.errors import InvalidInput
from ledger.jsonfmt import b64d, b64e

from ..auth import SESSION_COOKIE, Access, access, caller_of, scope_of
from ..responses import respond

__all__ = ["add_routes"]

_PUBLIC = access(Access.PUBLIC)
_LOGIN_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["member_id", "challenge", "signature"],
        "properties": {
            "member_id": {"type": "string"},
            "challenge": {"type": "string", "description": "base64url, as POST /v1/auth/challenge gave it"},
            "signature": {"type": "string", "description": "base64url of Ed25519(key, "
                                                           "\"minutebook/login/v1\\\\0\" + challenge bytes)"},
        }}}}}
}


async def _json_object(request: Request, fields: tuple[str, ...]) -> dict:
    import json

    try:
        obj = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("body", f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidInput("body", f"expected a JSON object with {', '.join(fields)}")
    for name in fields:
        if not isinstance(obj.get(name), str):
            raise InvalidInput(name, "required string")
    extra = sorted(set(obj) - set(fields))
    if extra:
        raise InvalidInput(extra[0], "unknown field")
    return obj


def add_routes(app: FastAPI, service: Any) -> None:
    auth = app.state.auth

    @app.post("/v1/auth/challenge", tags=["auth"], openapi_extra=_PUBLIC)
    async def post_challenge(request: Request) -> Response:
        """`{challenge, expires, node_id}`: 32 random bytes (base64url) to sign for POST /v1/auth/login,
        good once until `expires` (unix ms)."""
        challenge, until = auth.challenges.issue(auth.clock())
        return respond(request, {"challenge": b64e(challenge), "expires": int(until * 1000),
                                 "node_id": service.node_id})

    @app.post("/v1/auth/login", tags=["auth"], openapi_extra={**_PUBLIC, **_LOGIN_BODY}, responses={
        200: {"description": "`{member_id, expires, scope}`, and the `mb_session` cookie"},
        401: {"description": "the challenge is unknown, used or expired, or the signature does not verify under "
                            "a registered, unrevoked key of an active member"}})
    async def post_login(request: Request) -> Response:
        """Log in with a signed challenge; answers a session cookie (HttpOnly, SameSite=Strict)."""
        body = await _json_object(request, ("member_id", "challenge", "signature"))
        challenge = b64d(body["challenge"], "challenge", length=32)
        signature = b64d(body["signature"], "signature", length=64)
        caller, token = auth.login(body["member_id"], challenge, signature)
        request.state.caller = caller
        expires = auth.clock() + auth.settings.session_s
        response = respond(request, {"member_id": caller.id, "expires": int(expires * 1000),
                                     "scope": scope_of(request).describe()})
        response.set_cookie(SESSION_COOKIE, token, max_age=auth.settings.session_s, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/")
        return response

    @app.post("/v1/auth/logout", tags=["auth"], openapi_extra=_PUBLIC)
    async def post_logout(request: Request) -> Response:
        """Close the session (if any) and clear its cookie. `{closed: bool}`."""
        token = request.cookies.get(SESSION_COOKIE)
        closed = auth.sessions.close(token) if token else False
        response = respond(request, {"closed": closed})
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @app.get("/v1/auth/session", tags=["auth"], openapi_extra=access(Access.MEMBER))
    async def get_session(request: Request) -> Response:
        """`{caller, kind, via, scope, reads_all, reach, own_unit, home_unit}`: who the node takes you for,
        what you may read (`scope` in words; `reads_all`: every record and block envelope; `reach`: the
        units whose subtree's records you read, by your roles; `own_unit`: whose own records you read),
        and the unit the web pages start from (the highest your roles reach, else your own)."""
        caller = caller_of(request)
        scope = scope_of(request)
        return respond(request, {"caller": caller.id, "kind": caller.kind, "via": caller.via,
                                 "scope": scope.describe(), "reads_all": scope.reads_all,
                                 "reach": [scope.root] if scope.everything else [unit for unit, _ in scope.reach],
                                 "own_unit": scope.own_unit, "home_unit": scope.home})
