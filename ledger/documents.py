"""Documents, signatures and envelopes (DESIGN.md "Documents").

::

    doc      = {v: 1, type, org, body, refs: [doc_id...], created_at: unix_ms, nonce: 16 bytes}
    envelope = {doc, sigs: [{signer: member_id, key: 32 bytes, sig: 64 bytes}]}
    doc_id   = hex(sha256(canonical(doc)))
    sig      = Ed25519(key, DOC_DOMAIN + canonical(doc))

Records check themselves when built (``__post_init__``) and raise
``InvalidInput(field_path, rule)``, e.g. ``body.votes[2].for: expected int >=
0, got -1``. Body shapes are data in ledger/schemas.py; the rules that tie
fields together are here (:func:`_cross_checks`). Who may sign what is the
registry's business (it needs state).

Confidential bodies (minutes, resolution, inspection_finding) are
``{confidential: true, commitment, recipients, meta}`` with ``commitment =
sha256(COMMIT_DOMAIN + salt + canonical(public body))``
(:func:`body_commitment`); the body and its 32-byte salt travel sealed to the
recipients, and :func:`opens_commitment` proves a body matches.

Speed: every node decodes and checks every document of every block, so
:meth:`Envelope.from_bytes` reuses the input bytes as the envelope's canonical
bytes and computes the doc's canonical bytes once (msgpack of an already
checked value), caching both and the doc id on the frozen records.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import unicodedata

import msgpack

from .encoding import (MAX_CONTAINER_LEN, MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_STR_BYTES, canonical,
                       check_canonical_value, decode_canonical, normalize)
from .errors import BadSignature, InvalidInput, NotCanonical, TooLarge
from .keys import DOC_DOMAIN, public_key, sign, verify
from .schemas import (BODY_SCHEMAS, CONFIDENTIAL_SCHEMA, CONFIDENTIAL_TYPES, MAX_COUNT, REF_FIELDS, Enum, ListOf,
                      Nullable, Obj)
from .timefmt import MAX_MS, MIN_MS

__all__ = [
    "DOC_TYPES", "DOC_VERSION", "NONCE_BYTES", "MEMBER_ID_RE", "ORG_PATH_RE",
    "Document", "Signature", "Envelope",
    "sign_document", "make_envelope", "salvage_doc_id", "validate_body", "is_member_id", "is_org_path",
    "COMMIT_DOMAIN", "SALT_BYTES", "body_commitment", "confidential_body", "opens_commitment",
]

DOC_VERSION = 1
DOC_TYPES = ("minutes", "resolution", "member_status", "inspection_finding", "org_unit", "role", "member_key", "node",
             "profile_entry", "amendment", "directive", "directive_ack", "directive_report", "task_report", "poll",
             "ballot", "poll_close")
NONCE_BYTES = 16
MEMBER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ORG_PATH_RE = re.compile(r"[a-z0-9-]+(?:/[a-z0-9-]+)*")
_HEX64 = re.compile(r"[0-9a-f]{64}")
COMMIT_DOMAIN = b"minutebook/commit/v1\0"
SALT_BYTES = 32
_ENVELOPE_KEYS = ("doc", "sigs")
_DOC_KEYS = ("body", "created_at", "nonce", "org", "refs", "type", "v")  # sorted: the canonical order
_SIG_KEYS = ("key", "sig", "signer")
_pack = msgpack.Packer(use_bin_type=True).pack
_ENVELOPE_HEAD = b"\x82\xa3doc"  # canonical envelope: a 2-entry map whose first key is "doc"
_SIGS_KEY = b"\xa4sigs"
_unpackb = msgpack.unpackb
_BAD = object()
_is_nfc = unicodedata.is_normalized


def _plain(v: Any, depth: int) -> bool:
    """True iff a decoded container obeys every canonical rule checked by
    walking (types, NFC, key order, limits); one pass, no paths. On False,
    :func:`decode_canonical` runs to name the field (it stays the authority)."""
    if depth >= MAX_DEPTH or len(v) > MAX_CONTAINER_LEN:
        return False
    if type(v) is dict:
        keys = list(v)
        try:
            joined = "".join(keys)  # TypeError unless every key is a str
        except TypeError:
            return False
        if keys != sorted(keys):
            return False
        if not joined.isascii() and not all(_is_nfc("NFC", k) for k in keys):
            return False
        for x in v.values():
            tx = type(x)
            if tx is str:
                if not x.isascii() and not _is_nfc("NFC", x):
                    return False
            elif tx is dict or tx is list:
                if not _plain(x, depth + 1):
                    return False
            elif tx is not int and tx is not bytes and tx is not bool and x is not None:
                return False
        return True
    for x in v:
        tx = type(x)
        if tx is str:
            if not x.isascii() and not _is_nfc("NFC", x):
                return False
        elif tx is dict or tx is list:
            if not _plain(x, depth + 1):
                return False
        elif tx is not int and tx is not bytes and tx is not bool and x is not None:
            return False
    return True


def _decode(data: bytes) -> Any:
    """decode_canonical, with a fast path for the common, valid case."""
    return _decode_envelope(data)[0]


def _decode_envelope(data: bytes) -> tuple[Any, bool]:
    """``(value, proven)``: :func:`decode_canonical` of `data`, fast for the common case.

    ``proven`` is True when :func:`_proven` showed on the way that the value is
    an envelope of the canonical shape whose body matches its type's public
    schema (so building the Document need not check the body's schema again);
    otherwise the generic walk (:func:`_plain`) checked the canonical rules, and
    whatever is wrong with the shape is for the Document to name."""
    if type(data) is bytes and len(data) <= MAX_DOCUMENT_BYTES:
        try:
            value = _unpackb(data, raw=False, strict_map_key=False)
        except Exception:  # noqa: BLE001 - decode_canonical names the problem
            value = _BAD
        if value is not _BAD and type(value) is dict:
            proven = _proven(value)
            if (proven or _plain(value, 0)) and _pack(value) == data:
                return value, proven
    return decode_canonical(data), False


def _ascii_str(v: Any) -> bool:
    return type(v) is str and v.isascii()


def _proven(env: Any) -> bool:
    """True iff decoded `env` obeys every canonical rule :func:`_plain` checks AND is an
    envelope of exactly the canonical shape -- ``{doc: {body, created_at: int, nonce:
    bytes, org: str, refs: [str], type: str, v: int}, sigs: [{key: bytes, sig: bytes,
    signer: str}]}``, strings ASCII -- whose body matches the public schema of its type
    (:data:`_CANON`, which checks the schema and the canonical rules in one walk).

    False says nothing about the value: the generic path decides (and names what is
    wrong). Depths: the envelope is at 0, the doc and sigs at 1, the body at 2."""
    if len(env) != 2 or tuple(env) != _ENVELOPE_KEYS:
        return False
    doc, sigs = env["doc"], env["sigs"]
    if type(doc) is not dict or tuple(doc) != _DOC_KEYS or type(sigs) is not list or len(sigs) > MAX_CONTAINER_LEN:
        return False
    refs, doc_type = doc["refs"], doc["type"]
    if (type(doc["v"]) is not int or type(doc["created_at"]) is not int or type(doc["nonce"]) is not bytes
            or not _ascii_str(doc["org"]) or type(doc_type) is not str or type(refs) is not list
            or len(refs) > MAX_CONTAINER_LEN or not all(map(_ascii_str, refs))):
        return False
    for sig in sigs:
        if (type(sig) is not dict or tuple(sig) != _SIG_KEYS or type(sig["key"]) is not bytes
                or type(sig["sig"]) is not bytes or not _ascii_str(sig["signer"])):
            return False
    body_check = _CANON.get(doc_type)
    return body_check is not None and body_check(doc["body"])


def is_member_id(value: Any) -> bool:
    return type(value) is str and MEMBER_ID_RE.fullmatch(value) is not None


def is_org_path(value: Any) -> bool:
    return type(value) is str and len(value) <= 512 and ORG_PATH_RE.fullmatch(value) is not None


def _is_int(v: Any) -> bool:
    return type(v) is int


def _got(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def _check(spec: Any, value: Any, path: str) -> None:
    """Check `value` against a schemas.py spec; raise InvalidInput naming `path`."""
    if type(spec) is str:
        if spec == "str":
            if type(value) is not str:
                raise InvalidInput(path, f"expected a string, got {_got(value)}")
        elif spec == "name":
            if type(value) is not str or not value:
                raise InvalidInput(path, f"expected a non-empty string, got {_got(value)}")
        elif spec == "member":
            if not is_member_id(value):
                raise InvalidInput(path, f"expected a member id ({MEMBER_ID_RE.pattern}), got {_got(value)}")
        elif spec == "path":
            if not is_org_path(value):
                raise InvalidInput(path, f"expected an org path (lowercase segments [a-z0-9-]+ joined by /), got {_got(value)}")
        elif spec == "time":
            if type(value) is not int:
                raise InvalidInput(path, f"expected unix milliseconds (an integer), got {_got(value)}")
            if not MIN_MS <= value <= MAX_MS:
                raise InvalidInput(path, f"time {value} is out of range (years 0001 to 9999: {MIN_MS} .. {MAX_MS} "
                                         f"unix ms)")
        elif spec == "count":
            if type(value) is not int or not 0 <= value <= MAX_COUNT:
                what = "int >= 0" if type(value) is not int or value < 0 else f"int <= {MAX_COUNT}"
                raise InvalidInput(path, f"expected {what}, got {_got(value)}")
        elif spec == "bool":
            if type(value) is not bool:
                raise InvalidInput(path, f"expected true or false, got {_got(value)}")
        elif spec == "key32":
            if type(value) is not bytes or len(value) != 32:
                raise InvalidInput(path, f"expected 32 bytes, got {_got(value)}")
        elif spec == "doc_id":
            if type(value) is not str or _HEX64.fullmatch(value) is None:
                raise InvalidInput(path, f"expected a doc id (64 lowercase hex), got {_got(value)}")
        elif spec == "any_map":
            if type(value) is not dict:
                raise InvalidInput(path, f"expected a map, got {_got(value)}")
        else:  # pragma: no cover - a bad schema is a programming error
            raise AssertionError(f"unknown spec {spec!r}")
        return
    cls = type(spec)
    if cls is Obj:
        if type(value) is not dict:
            raise InvalidInput(path, f"expected a map, got {_got(value)}")
        fields = spec.fields
        for name, (sub, required) in fields.items():
            if name in value:
                _check(sub, value[name], f"{path}.{name}")
            elif required:
                raise InvalidInput(f"{path}.{name}", "missing required field")
        if len(value) > len(fields) or any(k not in fields for k in value):
            unknown = sorted(str(k) for k in value if k not in fields)
            if unknown:
                raise InvalidInput(path, f"unknown field(s): {', '.join(unknown)}")
    elif cls is ListOf:
        if type(value) is not list and type(value) is not tuple:
            raise InvalidInput(path, f"expected a list, got {_got(value)}")
        item = spec.item
        for i, v in enumerate(value):
            _check(item, v, f"{path}[{i}]")
    elif cls is Enum:
        if value not in spec.values or type(value) is not str:
            raise InvalidInput(path, f"expected one of {', '.join(spec.values)}, got {_got(value)}")
    elif cls is Nullable:
        if value is not None:
            _check(spec.spec, value, path)
    else:  # pragma: no cover
        raise AssertionError(f"unknown spec {spec!r}")


def _cross_checks(doc_type: str, body: dict) -> None:
    """Rules between fields of one body (the schema checked each field alone)."""
    if doc_type == "minutes":
        _check_unique((a["member"] for a in body["attendees"]), "body.attendees[{}].member", "attendee")
        polls = [(i, v["poll"]) for i, v in enumerate(body["votes"]) if "poll" in v]
        if len(polls) > 1:
            first: dict[str, int] = {}
            for i, poll in polls:
                if first.setdefault(poll, i) != i:
                    raise InvalidInput(f"body.votes[{i}].poll", f"duplicate poll {poll} (first at [{first[poll]}])")
    elif doc_type == "resolution":
        t = body["tally"]
        if t["for"] + t["against"] + t["abstain"] > t["eligible"]:
            raise InvalidInput("body.tally", f"for + against + abstain ({t['for'] + t['against'] + t['abstain']}) "
                                             f"exceeds eligible ({t['eligible']})")
    elif doc_type == "member_status":
        change = body["change"]
        if (change == "transferred") != ("to_org" in body):
            raise InvalidInput("body.to_org", "required iff change is transferred")
        if "public_key" in body and change != "admitted":
            raise InvalidInput("body.public_key", "only allowed when change is admitted")
    elif doc_type == "inspection_finding":
        if len(body["subject"]) != 1:
            raise InvalidInput("body.subject", "expected exactly one of unit or member")
    elif doc_type == "org_unit":
        if body["action"] == "create":
            for f in ("name", "kind"):
                if f not in body:
                    raise InvalidInput(f"body.{f}", "required to create a unit")
        elif len(body) != 2:
            raise InvalidInput("body", "close takes only action and path")
    elif doc_type == "node":
        if body["action"] == "add":
            for f in ("public_key", "peer_addr", "role"):
                if f not in body:
                    raise InvalidInput(f"body.{f}", "required to add a node")
        elif len(body) != 2:
            raise InvalidInput("body", "remove takes only action and node_id")
    elif doc_type == "profile_entry":
        if "started_at" in body and "completed_at" in body and body["completed_at"] < body["started_at"]:
            raise InvalidInput("body.completed_at", f"is before started_at ({body['completed_at']} < "
                                                    f"{body['started_at']})")
    elif doc_type == "amendment":
        if (body["action"] == "amend") != ("body" in body):
            raise InvalidInput("body.body", "required iff action is amend (the full replacement body)")
    elif doc_type == "directive":
        to = body["addressed"]
        scope = to["scope"]
        for f, needed in (("kind", scope == "level"), ("units", scope == "units")):
            if needed != (f in to):
                raise InvalidInput(f"body.addressed.{f}", f"required iff scope is {'level' if f == 'kind' else f}")
        if scope == "units":
            if not to["units"]:
                raise InvalidInput("body.addressed.units", "expected at least one unit")
            _check_unique(to["units"], "body.addressed.units[{}]", "unit")
        if not body["issued_at"] <= body["ack_due"] <= body["report_due"]:
            raise InvalidInput("body.ack_due", "expected issued_at <= ack_due <= report_due")
    elif doc_type == "poll":
        if len(body["options"]) < 2:
            raise InvalidInput("body.options", "expected at least two options")
        _check_unique(body["options"], "body.options[{}]", "option")
        q = body["quorum"]
        if not 0 <= q["num"] <= q["den"] or q["den"] == 0:
            raise InvalidInput("body.quorum", f"expected 0 <= num <= den and den >= 1, got {q['num']}/{q['den']}")


def _check_unique(values: Iterable[Any], path: str, what: str) -> None:
    """Raise naming the first repeat, e.g. ``body.attendees[3].member: duplicate attendee 'a' (first at 1)``."""
    values = list(values)
    if len(set(values)) == len(values):
        return
    first: dict[Any, int] = {}
    for i, v in enumerate(values):
        j = first.setdefault(v, i)
        if j != i:
            raise InvalidInput(path.format(i), f"duplicate {what} {_got(v)} (first at [{j}])")


_MISSING = object()


def _compile(spec: Any):
    """A fast predicate for `spec` (no paths); on False the interpreter
    (:func:`_check`) runs again to name the field and the rule."""
    if type(spec) is str:
        return {
            "str": lambda v: type(v) is str,
            "name": lambda v: type(v) is str and v != "",
            "member": is_member_id,
            "path": is_org_path,
            "time": lambda v: type(v) is int and MIN_MS <= v <= MAX_MS,
            "count": lambda v: type(v) is int and 0 <= v <= MAX_COUNT,
            "bool": lambda v: type(v) is bool,
            "key32": lambda v: type(v) is bytes and len(v) == 32,
            "doc_id": lambda v: type(v) is str and _HEX64.fullmatch(v) is not None,
            "any_map": lambda v: type(v) is dict,
        }[spec]
    cls = type(spec)
    if cls is Obj:
        fields = tuple((name, _compile(sub), required) for name, (sub, required) in spec.fields.items())

        def check_obj(v) -> bool:
            if type(v) is not dict:
                return False
            n = 0
            for name, pred, required in fields:
                x = v.get(name, _MISSING)
                if x is _MISSING:
                    if required:
                        return False
                elif not pred(x):
                    return False
                else:
                    n += 1
            return n == len(v)
        return check_obj
    if cls is ListOf:
        item = _compile(spec.item)
        return lambda v: type(v) is list and all(map(item, v)) or (type(v) is tuple and all(map(item, v)))
    if cls is Enum:
        values = frozenset(spec.values)
        return lambda v: type(v) is str and v in values
    if cls is Nullable:
        inner = _compile(spec.spec)
        return lambda v: v is None or inner(v)
    raise AssertionError(f"unknown spec {spec!r}")  # pragma: no cover


_FAST = {t: _compile(s) for t, s in BODY_SCHEMAS.items()}


class _CanonicalChecker:
    """Compiles a schema into one specialised Python function that checks, in one walk
    of a decoded body, the schema AND every canonical rule :func:`_plain` checks (NFC
    strings, sorted keys, limits): True iff both hold; False says nothing (the generic
    path decides and names what is wrong).

    Generated once per type as source and ``exec``-ed: each map of the schema becomes a
    function that compares its key tuple with the few sorted tuples the schema allows
    (which checks unknown, missing and out-of-order keys at once) and tests each field
    with the leaf's condition written inline; each list a loop. Only specs whose strings
    are ASCII by construction (member, path, doc_id, enums of ASCII values) skip the NFC
    test; "any_map" is handed to :func:`_plain` at its depth."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {
            "_plain": _plain, "_nfc": _is_nfc, "_member": MEMBER_ID_RE.fullmatch, "_path": ORG_PATH_RE.fullmatch,
            "_hex64": _HEX64.fullmatch, "MIN_MS": MIN_MS, "MAX_MS": MAX_MS, "MAX_COUNT": MAX_COUNT,
            "MAXC": MAX_CONTAINER_LEN}
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"_{kind}{self.count}"

    def expr(self, spec: Any, x: str, depth: int) -> str:
        """A condition on variable `x` (a value at `depth`) that holds iff it matches `spec` canonically."""
        if type(spec) is str:
            return {
                "str": f"(type({x}) is str and ({x}.isascii() or _nfc('NFC', {x})))",
                "name": f"(type({x}) is str and {x} != '' and ({x}.isascii() or _nfc('NFC', {x})))",
                "member": f"(type({x}) is str and _member({x}) is not None)",
                "path": f"(type({x}) is str and len({x}) <= 512 and _path({x}) is not None)",
                "doc_id": f"(type({x}) is str and _hex64({x}) is not None)",
                "time": f"(type({x}) is int and MIN_MS <= {x} <= MAX_MS)",
                "count": f"(type({x}) is int and 0 <= {x} <= MAX_COUNT)",
                "bool": f"(type({x}) is bool)",
                "key32": f"(type({x}) is bytes and len({x}) == 32)",
                "any_map": f"(type({x}) is dict and _plain({x}, {depth}))",
            }[spec]
        cls = type(spec)
        if cls is Enum:
            values = self._name("values")
            self.names[values] = frozenset(spec.values)
            nfc = "" if all(v.isascii() for v in spec.values) else f" and ({x}.isascii() or _nfc('NFC', {x}))"
            return f"(type({x}) is str and {x} in {values}{nfc})"
        if cls is Nullable:
            return f"({x} is None or {self.expr(spec.spec, x, depth)})"
        if cls is ListOf:
            return f"{self.list_function(spec, depth)}({x})"
        if cls is Obj:
            return f"{self.obj_function(spec, depth)}({x})"
        raise AssertionError(f"unknown spec {spec!r}")  # pragma: no cover

    def list_function(self, spec: ListOf, depth: int) -> str:
        name = self._name("list")
        item = self.expr(spec.item, "x", depth + 1)
        self.lines += [f"def {name}(v):",
                       "    if type(v) is not list or len(v) > MAXC:",
                       "        return False",
                       "    for x in v:",
                       f"        if not {item}:",
                       "            return False",
                       "    return True", ""]
        return name

    def obj_function(self, spec: Obj, depth: int) -> str:
        name = self._name("map")
        names = sorted(spec.fields)  # the canonical key order
        optional = [n for n in names if not spec.fields[n][1]]
        allowed = set()
        for mask in range(1 << len(optional)):
            dropped = {n for i, n in enumerate(optional) if mask >> i & 1}
            allowed.add(tuple(n for n in names if n not in dropped))
        keys = self._name("keys")
        self.names[keys] = frozenset(allowed)
        body = [f"    if type(v) is not dict or tuple(v) not in {keys}:", "        return False"]
        for n in names:
            cond = self.expr(spec.fields[n][0], "x", depth + 1)
            if spec.fields[n][1]:
                body += [f"    x = v[{n!r}]", f"    if not {cond}:", "        return False"]
            else:
                body += [f"    if {n!r} in v:", f"        x = v[{n!r}]", f"        if not {cond}:",
                         "            return False"]
        self.lines += [f"def {name}(v):", *body, "    return True", ""]
        return name

    @classmethod
    def compile(cls, spec: Obj, depth: int):
        """The checker of a value at `depth` against the map schema `spec`."""
        self = cls()
        top = self.obj_function(spec, depth)
        namespace = dict(self.names)
        exec(compile("\n".join(self.lines), f"<canonical checker {top}>", "exec"), namespace)  # noqa: S102
        return namespace[top]


# type -> its public body's predicate at depth 2 (envelope.doc.body), schema and canonical rules
_CANON = {t: _CanonicalChecker.compile(s, 2) for t, s in BODY_SCHEMAS.items()}


def validate_body(doc_type: str, body: Any, path: str = "body") -> None:
    """Check `body` against the schema of `doc_type` (or the confidential form).

    Errors name fields from `path` on: ``body.votes[2].for``, or, for the
    replacement body inside an amendment, ``body.body.votes[2].for``.
    """
    if path != "body":
        try:
            validate_body(doc_type, body)
        except InvalidInput as exc:
            raise InvalidInput(path + exc.field.removeprefix("body"), exc.rule) from None
        return
    if type(body) is not dict:
        raise InvalidInput("body", f"expected a map, got {_got(body)}")
    if "confidential" not in body and _FAST[doc_type](body):
        _cross_checks(doc_type, body)
        return
    if "confidential" in body:
        if doc_type not in CONFIDENTIAL_TYPES:
            raise InvalidInput("body.confidential", f"{doc_type} documents cannot be confidential")
        _check(CONFIDENTIAL_SCHEMA, body, "body")
        if body["confidential"] is not True:
            raise InvalidInput("body.confidential", "expected true (omit the field for a public body)")
        if not body["recipients"]:
            raise InvalidInput("body.recipients", "expected at least one recipient")
        _check_unique(body["recipients"], "body.recipients[{}]", "recipient")
        return
    _check(BODY_SCHEMAS[doc_type], body, "body")
    raise InvalidInput("body", "does not match the schema")  # pragma: no cover - predicate and checker agree


def body_commitment(doc_type: str, body: dict, salt: bytes) -> bytes:
    """The commitment a confidential body keeps on the ledger (DESIGN.md
    "Confidential documents"): ``sha256(COMMIT_DOMAIN + salt + canonical(body))``.

    `body` must be a valid public body of `doc_type`, so whoever opens the
    commitment holds a real document body. The 32-byte random salt travels
    sealed with the body; without it a reader could confirm a guessed body (a
    likely vote tally, say) by hashing guesses.
    """
    if doc_type not in CONFIDENTIAL_TYPES:
        raise InvalidInput("doc.type", f"{doc_type} documents cannot be confidential")
    if type(body) is dict and "confidential" in body:
        raise InvalidInput("body.confidential", "commit to the public body, not to a confidential one")
    validate_body(doc_type, body)
    if type(salt) is not bytes or len(salt) != SALT_BYTES:
        raise InvalidInput("salt", f"expected {SALT_BYTES} bytes, got {_got(salt)}")
    return hashlib.sha256(COMMIT_DOMAIN + salt + canonical(body)).digest()


def confidential_body(doc_type: str, body: dict, *, salt: bytes, recipients: Iterable[str],
                      meta: dict | None = None) -> dict:
    """The on-ledger body standing for `body`: its commitment, the recipients
    (member ids, in the given order) and public `meta` (e.g. the meeting kind
    and date, so analytics still count the meeting)."""
    out = {"confidential": True, "commitment": body_commitment(doc_type, body, salt),
           "recipients": list(recipients), "meta": {} if meta is None else meta}
    validate_body(doc_type, out)
    return out


def opens_commitment(doc: "Document", body: Any, salt: Any) -> bool:
    """True iff `body` with `salt` is what the confidential `doc` committed to.

    Never raises: a wrong salt, a tampered or invalid body, a public doc all
    answer False.
    """
    committed = doc.body.get("commitment") if doc.body.get("confidential") is True else None
    if committed is None:
        return False
    try:
        return hmac.compare_digest(body_commitment(doc.type, body, salt), committed)
    except InvalidInput:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A document; checks its shape and body schema when built."""

    v: int
    type: str
    org: str
    body: dict
    refs: tuple
    created_at: int
    nonce: bytes
    _canonical: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _doc_id: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check(body="full")

    def _check(self, *, body: str) -> None:
        """Every rule of a document. `body`: "full", the body's every rule; "proven", its
        schema is known to match (``_CANON`` showed it while decoding), so only the rules tying
        its fields together are checked; "trusted", only that it is a map (a certified block's
        fast path, Envelope.from_certified_bytes)."""
        if type(self.v) is not int or self.v != DOC_VERSION:
            raise InvalidInput("doc.v", f"expected {DOC_VERSION}, got {_got(self.v)}")
        if type(self.type) is not str or self.type not in BODY_SCHEMAS:  # type first: a list is unhashable
            raise InvalidInput("doc.type", f"expected one of {', '.join(DOC_TYPES)}, got {_got(self.type)}")
        if not is_org_path(self.org):
            raise InvalidInput("doc.org", f"expected an org path, got {_got(self.org)}")
        refs = self.refs
        if type(refs) is not tuple:
            if type(refs) is not list:
                raise InvalidInput("doc.refs", f"expected a list of doc ids, got {_got(refs)}")
            refs = tuple(refs)
            object.__setattr__(self, "refs", refs)
        for i, r in enumerate(refs):
            if type(r) is not str or _HEX64.fullmatch(r) is None:
                raise InvalidInput(f"doc.refs[{i}]", f"expected a doc id (64 lowercase hex), got {_got(r)}")
        if len(refs) > 1:
            _check_unique(refs, "doc.refs[{}]", "ref")
        if type(self.created_at) is not int or not 0 < self.created_at <= MAX_MS:
            raise InvalidInput("doc.created_at", f"expected unix milliseconds (int > 0, at most {MAX_MS}: year "
                                                 f"9999), got {_got(self.created_at)}")
        if type(self.nonce) is not bytes or len(self.nonce) != NONCE_BYTES:
            raise InvalidInput("doc.nonce", f"expected {NONCE_BYTES} bytes, got {_got(self.nonce)}")
        if body == "proven":
            _cross_checks(self.type, self.body)
        elif body == "full":
            validate_body(self.type, self.body)
        elif type(self.body) is dict:
            return
        else:
            raise InvalidInput("body", f"expected a map, got {_got(self.body)}")
        ref_field = REF_FIELDS.get(self.type)
        if ref_field is not None and refs != (self.body[ref_field],):
            raise InvalidInput("doc.refs", f"a {self.type} refs exactly the document in body.{ref_field} "
                                           f"([{self.body[ref_field]}]), got {_got(list(refs))}")

    def __hash__(self) -> int:
        return hash(self.doc_id)

    @classmethod
    def from_obj(cls, obj: Any) -> "Document":
        """Build from a decoded map, checking canonical form (NFC, no floats) too."""
        doc = cls._from_obj(obj, "doc")
        check_canonical_value(obj)
        return doc

    @classmethod
    def _from_proven(cls, obj: dict, body: str = "proven") -> "Document":
        """Build from a decoded doc that :func:`_proven` passed (its shape is exact and its
        body matches its type's schema): every other rule is still checked. With `body`
        "trusted", from a doc of exactly the seven fields whose body is not checked (see
        Document._check)."""
        doc = object.__new__(cls)
        setattr_ = object.__setattr__
        for name in _DOC_KEYS:
            setattr_(doc, name, obj[name])
        setattr_(doc, "_canonical", None)
        setattr_(doc, "_doc_id", None)
        doc._check(body=body)
        return doc

    @classmethod
    def _from_obj(cls, obj: Any, path: str) -> "Document":
        if type(obj) is not dict:
            raise InvalidInput(path, f"expected a map, got {_got(obj)}")
        if len(obj) != 7 or any(k not in obj for k in _DOC_KEYS):
            missing = [k for k in _DOC_KEYS if k not in obj]
            if missing:
                raise InvalidInput(f"{path}.{missing[0]}", "missing required field")
            raise InvalidInput(path, f"unknown field(s): {', '.join(sorted(str(k) for k in obj if k not in _DOC_KEYS))}")
        return cls(v=obj["v"], type=obj["type"], org=obj["org"], body=obj["body"], refs=obj["refs"],
                   created_at=obj["created_at"], nonce=obj["nonce"])

    @classmethod
    def new(cls, *, type: str, org: str, body: dict, refs: Iterable[str] = (), created_at: int | None = None,
            nonce: bytes | None = None) -> "Document":
        """For the SDK: NFC-normalises strings, fills created_at (now) and a random nonce."""
        return cls.from_obj({
            "v": DOC_VERSION, "type": type, "org": normalize(org), "body": normalize(body),
            "refs": list(refs), "created_at": int(time.time() * 1000) if created_at is None else created_at,
            "nonce": os.urandom(NONCE_BYTES) if nonce is None else nonce,
        })

    def to_obj(self) -> dict:
        return {"v": self.v, "type": self.type, "org": self.org, "body": self.body, "refs": list(self.refs),
                "created_at": self.created_at, "nonce": self.nonce}

    @property
    def canonical(self) -> bytes:
        c = self._canonical
        if c is None:
            c = canonical(self.to_obj())
            object.__setattr__(self, "_canonical", c)
        return c

    @property
    def doc_id(self) -> str:
        d = self._doc_id
        if d is None:
            d = hashlib.sha256(self.canonical).hexdigest()
            object.__setattr__(self, "_doc_id", d)
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    signer: str
    key: bytes
    sig: bytes

    def __post_init__(self) -> None:
        if not is_member_id(self.signer):
            raise InvalidInput("signer", f"expected a member id, got {_got(self.signer)}")
        if type(self.key) is not bytes or len(self.key) != 32:
            raise InvalidInput("key", f"expected 32 bytes, got {_got(self.key)}")
        if type(self.sig) is not bytes or len(self.sig) != 64:
            raise InvalidInput("sig", f"expected 64 bytes, got {_got(self.sig)}")

    def to_obj(self) -> dict:
        return {"key": self.key, "sig": self.sig, "signer": self.signer}


def _signature_from_obj(obj: Any, path: str) -> Signature:
    if type(obj) is not dict:
        raise InvalidInput(path, f"expected a map, got {_got(obj)}")
    if len(obj) != 3 or any(k not in obj for k in _SIG_KEYS):
        missing = [k for k in _SIG_KEYS if k not in obj]
        if missing:
            raise InvalidInput(f"{path}.{missing[0]}", "missing required field")
        raise InvalidInput(path, f"unknown field(s): {', '.join(sorted(str(k) for k in obj if k not in _SIG_KEYS))}")
    try:
        return Signature(signer=obj["signer"], key=obj["key"], sig=obj["sig"])
    except InvalidInput as exc:
        raise InvalidInput(f"{path}.{exc.field}", exc.rule) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """A document with its signatures; ``to_bytes()`` is the Merkle leaf."""

    doc: Document
    sigs: tuple
    _bytes: bytes | None = field(default=None, init=False, repr=False, compare=False)
    # True once verify_signatures() passed: the signatures are a function of these immutable bytes
    # alone, so an envelope object checked once need not be checked again (ledger.Ledger keeps
    # the envelopes its admission checked, so each node verifies each signature once).
    _verified: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.doc) is not Document:
            raise InvalidInput("doc", "expected a Document")
        sigs = self.sigs
        if type(sigs) is not tuple:
            sigs = tuple(sigs)
            object.__setattr__(self, "sigs", sigs)
        for i, s in enumerate(sigs):
            if type(s) is not Signature:
                raise InvalidInput(f"sigs[{i}]", "expected a Signature")

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    @classmethod
    def from_obj(cls, obj: Any) -> "Envelope":
        env = cls._from_obj(obj)
        check_canonical_value(obj)
        return env

    @classmethod
    def _from_obj(cls, obj: Any, *, proven: bool = False) -> "Envelope":
        """`proven`: :func:`_proven` passed `obj` (see Document._from_proven)."""
        if type(obj) is not dict:
            raise InvalidInput("", f"envelope: expected a map, got {_got(obj)}")
        if len(obj) != 2 or "doc" not in obj or "sigs" not in obj:
            raise InvalidInput("", "envelope: expected exactly the fields doc and sigs")
        doc = Document._from_proven(obj["doc"]) if proven else Document._from_obj(obj["doc"], "doc")
        sigs = obj["sigs"]
        if type(sigs) is not list:
            raise InvalidInput("sigs", f"expected a list, got {_got(sigs)}")
        if proven:  # each is a map of exactly key, sig, signer
            try:
                return cls(doc=doc, sigs=tuple(Signature(signer=s["signer"], key=s["key"], sig=s["sig"]) for s in sigs))
            except InvalidInput:
                pass  # named below, with its index
        return cls(doc=doc, sigs=tuple(_signature_from_obj(s, f"sigs[{i}]") for i, s in enumerate(sigs)))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Envelope":
        """Decode canonical bytes and validate; the bytes become the cached encoding."""
        obj, proven = _decode_envelope(data)
        env = cls._from_obj(obj, proven=proven)
        data = bytes(data)
        object.__setattr__(env, "_bytes", data)
        object.__setattr__(env.doc, "_canonical", _doc_bytes(data, obj))
        return env

    @classmethod
    def from_certified_bytes(cls, data: bytes) -> "Envelope":
        """For an envelope of a block that a strict majority of the voters certified, applied
        under that certificate's header (Ledger's certified fast path, which says why this is
        safe): decoded without proving the bytes canonical and without checking the body
        beyond its being a map; its signatures taken as verified. The envelope's shape and the
        document's other fields (v, type, org, refs, created_at, nonce) and the signatures'
        form are checked as always. Raises the typed errors (NotCanonical for bytes that are
        not one msgpack value)."""
        if type(data) is not bytes or len(data) > MAX_DOCUMENT_BYTES:
            raise TooLarge("", "not an envelope of at most MAX_DOCUMENT_BYTES bytes")
        try:
            obj = _unpackb(data, raw=False, strict_map_key=False)
        except Exception:  # noqa: BLE001 - the full path names the problem
            raise NotCanonical("", "not one msgpack value") from None
        if type(obj) is not dict or tuple(obj) != _ENVELOPE_KEYS or type(obj["doc"]) is not dict \
                or tuple(obj["doc"]) != _DOC_KEYS or type(obj["sigs"]) is not list:
            raise InvalidInput("", "envelope: not exactly {doc, sigs} with the document's seven fields")
        env = cls(doc=Document._from_proven(obj["doc"], "trusted"),
                  sigs=tuple(_signature_from_obj(s, f"sigs[{i}]") for i, s in enumerate(obj["sigs"])))
        object.__setattr__(env, "_bytes", data)
        object.__setattr__(env.doc, "_canonical", _doc_bytes(data, obj))
        env.trust_signatures()
        return env

    def to_obj(self) -> dict:
        return {"doc": self.doc.to_obj(), "sigs": [s.to_obj() for s in self.sigs]}

    def to_bytes(self) -> bytes:
        b = self._bytes
        if b is None:
            b = canonical(self.to_obj())
            object.__setattr__(self, "_bytes", b)
        return b

    @property
    def doc_id(self) -> str:
        return self.doc.doc_id

    @property
    def signers(self) -> tuple[str, ...]:
        return tuple(s.signer for s in self.sigs)

    def trust_signatures(self) -> None:
        """Take the signatures as verified without checking them. Only for an envelope of a
        block whose certified header the block must reproduce (``Ledger.apply_block(certified=
        ...)``: a different outcome of a check would make a different header, refused)."""
        object.__setattr__(self, "_verified", True)

    def verify_signatures(self) -> None:
        """Each signature against its own key (DOC_DOMAIN); at least one; no signer twice.

        Whether the key is the signer's registered one is the registry's check.
        """
        if self._verified:
            return
        if not self.sigs:
            raise BadSignature("", "the envelope has no signature")
        message = self.doc.canonical
        seen: set[str] = set()
        for i, s in enumerate(self.sigs):
            if s.signer in seen:
                raise BadSignature(s.signer, f"{s.signer} signs more than once", field=f"sigs[{i}].signer")
            seen.add(s.signer)
            if not verify(s.key, DOC_DOMAIN, message, s.sig):
                raise BadSignature(s.signer, field=f"sigs[{i}].sig")
        object.__setattr__(self, "_verified", True)


def _doc_bytes(data: bytes, obj: dict) -> bytes:
    """The canonical bytes of ``obj["doc"]``, `obj` the value of the canonical bytes `data`.
    Canonical ``{doc, sigs}`` is 0x82, "doc", the doc's canonical bytes, "sigs", the sigs:
    the doc is sliced out rather than encoded again (packing the short sigs is cheaper)."""
    if len(obj) == 2 and "sigs" in obj and data.startswith(_ENVELOPE_HEAD):
        return data[len(_ENVELOPE_HEAD):len(data) - len(_SIGS_KEY) - len(_pack(obj["sigs"]))]
    return _pack(obj["doc"])  # a canonical value packs to its canonical bytes


def salvage_doc_id(data: bytes) -> str | None:
    """The id of the document inside envelope bytes that failed validation, if
    they at least decode canonically to ``{doc: {...}, ...}``; else None."""
    try:
        obj = _decode(data)
    except InvalidInput:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("doc"), dict):
        return hashlib.sha256(_doc_bytes(data, obj)).hexdigest()
    return None


def sign_document(doc: Document, signer_id: str, seed: bytes) -> Signature:
    return Signature(signer=signer_id, key=public_key(seed), sig=sign(seed, DOC_DOMAIN, doc.canonical))


def make_envelope(doc: Document, signers: Iterable[tuple[str, bytes]]) -> Envelope:
    """Sign `doc` with each (signer_id, seed) and wrap it."""
    return Envelope(doc=doc, sigs=tuple(sign_document(doc, signer_id, seed) for signer_id, seed in signers))
