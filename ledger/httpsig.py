"""Request signatures: RFC 9421 HTTP Message Signatures with Ed25519, and
RFC 9530 Content-Digest, in the one profile minutebook uses.

The SDK and the CLI sign every request with the member's (or node's) key;
the node checks the signature (node/auth.py holds the policy: which keys,
the time window, the replay cache). Both sides build the signature base
here, so what is signed and what is checked are made by the same code.

Profile (what ``sign_request`` writes and ``parse_request_signature``
accepts)::

    Content-Digest: sha-256=:<base64 of SHA-256(body)>:           (only with a body)
    Signature-Input: mb=("@method" "@path" "@query" ["content-digest"])
                     ;created=<unix s>;expires=<unix s>;keyid="<member or node id>"
                     ;nonce="<random>";alg="ed25519"
    Signature: mb=:<base64 of the 64-byte Ed25519 signature>:

- exactly one signature (one member in each dictionary, same label);
- covered components: ``@method``, ``@path`` and ``@query`` (RFC 9421
  §2.2.2, §2.2.6, §2.2.7), in any order, and ``content-digest`` exactly when
  the request has a body; no component parameters;
- parameters: ``created``, ``expires``, ``keyid``, ``nonce`` required, ``alg``
  optional but ``"ed25519"`` if present, nothing else (§2.3);
- the signature base (§2.5) is, for each covered component, the component
  identifier as an sf-string, ``": "``, its value and a newline, then
  ``"@signature-params": `` and the serialised inner list with its
  parameters; it must be US-ASCII. The Ed25519 signature (RFC 8032, §3.3.6)
  is over the base's bytes, nothing prepended.

A signature base always starts with ``"`` (0x22), and document, block and
login signatures start with ``minutebook/``: one key can sign all four
without a signature of one kind ever passing for another.

Structured fields (RFC 8941) are parsed here only as far as the profile
needs: dictionaries whose members are items or inner lists, items that are
integers, strings, tokens, byte sequences or booleans, and parameters.
Decimals and display strings are refused as unsupported, as are duplicate
keys (RFC 8941 lets the last win; for a signature that ambiguity is refused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from .errors import BadRequestSignature
from .keys import sign, verify

__all__ = [
    "LABEL",
    "ALGORITHM",
    "BASE_COMPONENTS",
    "DIGEST_COMPONENT",
    "MAX_FIELD_CHARS",
    "RequestSignature",
    "content_digest",
    "check_content_digest",
    "signature_base",
    "serialize_signature_params",
    "sign_request",
    "parse_request_signature",
    "verify_request_signature",
    "parse_dictionary",
]

LABEL = "mb"
ALGORITHM = "ed25519"
BASE_COMPONENTS = ("@method", "@path", "@query")
DIGEST_COMPONENT = "content-digest"
MAX_FIELD_CHARS = 4096  # a longer Signature-Input or Signature is refused before parsing
_PARAM_ORDER = ("created", "expires", "keyid", "nonce", "alg")
_REQUIRED_PARAMS = ("created", "expires", "keyid", "nonce")
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
_STRING = re.compile(r'"((?:[ !#-\[\]-~]|\\[\\"])*)"')  # RFC 8941 sf-string: printable ASCII, \" and \\ escaped
_PRINTABLE = re.compile(r"[ -~]*")
_UNESCAPE = re.compile(r"\\(.)")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- structured fields (RFC 8941), the subset the profile uses ----------------


@dataclass(frozen=True, slots=True)
class _Token:
    value: str


@dataclass(frozen=True, slots=True)
class _Member:
    """A dictionary member: an item (``value``) or an inner list (``items``), with parameters."""

    value: Any
    params: tuple[tuple[str, Any], ...]
    items: tuple[tuple[Any, tuple], ...] | None = None  # inner list: ((bare item, params), ...)


class _Parser:
    """RFC 8941 §4.2, over one field value; raises BadRequestSignature naming the field."""

    def __init__(self, text: str, field: str) -> None:
        self.s = text
        self.i = 0
        self.field = field

    def fail(self, why: str) -> BadRequestSignature:
        return BadRequestSignature(f"{self.field}: {why} at character {self.i + 1}")

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.i += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.i += 1

    def key(self) -> str:
        m = _KEY.match(self.s, self.i)
        if m is None:
            raise self.fail("expected a key (lowercase letters, digits, _-.*)")
        self.i = m.end()
        return m.group()

    def bare_item(self) -> Any:
        c = self.peek()
        if c == '"':
            return self.string()
        if c == ":":
            return self.byte_sequence()
        if c == "?":
            if self.s[self.i + 1:self.i + 2] in ("0", "1"):
                self.i += 2
                return self.s[self.i - 1] == "1"
            raise self.fail("expected ?0 or ?1")
        if c == "-" or c.isdigit():
            m = _INTEGER.match(self.s, self.i)
            if m is None:
                raise self.fail("expected an integer of at most 15 digits")
            if self.s[m.end():m.end() + 1] == ".":
                raise self.fail("decimals are not used in request signatures")
            self.i = m.end()
            return int(m.group())
        if c.isalpha() or c == "*":
            m = _TOKEN.match(self.s, self.i)
            self.i = m.end()
            return _Token(m.group())
        raise self.fail(f"unexpected {c!r}" if c else "unexpected end")

    def string(self) -> str:
        m = _STRING.match(self.s, self.i)
        if m is not None:
            self.i = m.end()
            text = m.group(1)
            return _UNESCAPE.sub(r"\1", text) if "\\" in text else text
        return self._string_slowly()  # names what is wrong

    def _string_slowly(self) -> str:
        self.i += 1
        out = []
        while True:
            c = self.peek()
            if not c:
                raise self.fail("unterminated string")
            self.i += 1
            if c == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\") or not nxt:
                    raise self.fail("a string may escape only \" and \\")
                out.append(nxt)
                self.i += 1
            elif c == '"':
                return "".join(out)
            elif not " " <= c <= "~":
                raise self.fail("strings hold printable ASCII only")
            else:
                out.append(c)

    def byte_sequence(self) -> bytes:
        end = self.s.find(":", self.i + 1)
        if end < 0:
            raise self.fail("unterminated byte sequence")
        text = self.s[self.i + 1:end]
        if _BASE64.fullmatch(text) is None:
            raise self.fail("byte sequences are base64")
        try:
            data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise self.fail("byte sequence is not valid base64") from None
        self.i = end + 1
        return data

    def params(self) -> tuple[tuple[str, Any], ...]:
        out: list[tuple[str, Any]] = []
        while self.peek() == ";":
            self.i += 1
            self.skip_sp()
            name = self.key()
            value: Any = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            if any(n == name for n, _ in out):
                raise self.fail(f"parameter {name!r} given twice")
            out.append((name, value))
        return tuple(out)

    def inner_list(self) -> tuple[tuple[Any, tuple], ...]:
        self.i += 1  # "("
        items = []
        while True:
            self.skip_sp()
            if self.peek() == ")":
                self.i += 1
                return tuple(items)
            item = self.bare_item()
            items.append((item, self.params()))
            if self.peek() not in (" ", ")"):
                raise self.fail("expected a space or ) in the inner list")

    def dictionary(self) -> dict[str, _Member]:
        out: dict[str, _Member] = {}
        self.skip_sp()
        while self.i < len(self.s):
            name = self.key()
            if name in out:
                raise self.fail(f"member {name!r} given twice")
            if self.peek() == "=":
                self.i += 1
                if self.peek() == "(":
                    items = self.inner_list()
                    out[name] = _Member(value=None, params=self.params(), items=items)
                else:
                    value = self.bare_item()
                    out[name] = _Member(value=value, params=self.params())
            else:
                out[name] = _Member(value=True, params=self.params())
            self.skip_ows()
            if self.i >= len(self.s):
                break
            if self.peek() != ",":
                raise self.fail("expected , between dictionary members")
            self.i += 1
            self.skip_ows()
            if self.i >= len(self.s):
                raise self.fail("trailing comma")
        return out


def parse_dictionary(text: str, field: str) -> dict[str, _Member]:
    """An RFC 8941 dictionary (the subset above); raises BadRequestSignature naming `field`."""
    if len(text) > MAX_FIELD_CHARS:
        raise BadRequestSignature(f"{field}: longer than {MAX_FIELD_CHARS} characters")
    return _Parser(text.strip(" "), field).dictionary()


def _serialize_string(value: str) -> str:
    if _PRINTABLE.fullmatch(value) is None:
        raise BadRequestSignature(f"string {value!r} is not printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_bare(value: Any) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) >= 10 ** 15:
            raise BadRequestSignature(f"integer {value} has more than 15 digits")
        return str(value)
    if isinstance(value, str):
        return _serialize_string(value)
    if isinstance(value, _Token):
        return value.value
    if isinstance(value, bytes):
        return ":" + _b64(value) + ":"
    raise TypeError(f"cannot serialise {type(value).__name__}")  # pragma: no cover - our own values only


def _serialize_params(params) -> str:
    return "".join(f";{name}" if value is True else f";{name}={_serialize_bare(value)}" for name, value in params)


def serialize_signature_params(components, params) -> str:
    """The ``@signature-params`` value: ``("c1" "c2");name=value...`` (RFC 9421 §2.3)."""
    return "(" + " ".join(_serialize_string(c) for c in components) + ")" + _serialize_params(params)


# -- RFC 9530 ------------------------------------------------------------------


def content_digest(body: bytes) -> str:
    """The Content-Digest field value for `body`: ``sha-256=:<base64>:``."""
    return "sha-256=:" + _b64(hashlib.sha256(body).digest()) + ":"


def check_content_digest(value: str, body: bytes) -> None:
    """Every digest we know in the field matches `body`, and there is at least one.
    Raises BadRequestSignature saying which."""
    members = parse_dictionary(value, "Content-Digest")
    known = 0
    for name, member in members.items():
        algorithm = _DIGESTS.get(name)
        if algorithm is None:
            continue
        if not isinstance(member.value, bytes) or member.items is not None:
            raise BadRequestSignature(f"Content-Digest: {name} is not a byte sequence")
        if not hmac.compare_digest(member.value, algorithm(body).digest()):
            raise BadRequestSignature(f"Content-Digest: the {name} digest does not match the body")
        known += 1
    if not known:
        raise BadRequestSignature("Content-Digest: no sha-256 or sha-512 digest")


# -- RFC 9421 ------------------------------------------------------------------


def signature_base(components, signature_params: str) -> bytes:
    """RFC 9421 §2.5: ``"name": value`` lines, then ``"@signature-params": ...``.

    `components` are (identifier, value) pairs in the covered order. Raises
    BadRequestSignature if a value holds a newline or the base is not ASCII.
    """
    lines = []
    for name, value in components:
        if "\n" in value or "\r" in value:
            raise BadRequestSignature(f"the value of {name} holds a line break")
        lines.append(f"{_serialize_string(name)}: {value}")
    lines.append(f'"@signature-params": {signature_params}')
    text = "\n".join(lines)
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise BadRequestSignature("the signature base is not US-ASCII (percent-encode the path and query)") from None


def _component_values(method: str, path: str, query: str) -> dict[str, str]:
    return {"@method": method.upper(), "@path": path or "/", "@query": "?" + query}


def sign_request(*, method: str, path: str, query: str, body: bytes, keyid: str, seed: bytes, created: int,
                 expires: int, nonce: str) -> dict[str, str]:
    """The headers that sign a request: Signature-Input, Signature, and
    Content-Digest when `body` is not empty. `path` and `query` are exactly
    as sent (percent-encoded; `query` without its ``?``); times are unix
    seconds."""
    values = _component_values(method, path, query)
    components = [(name, values[name]) for name in BASE_COMPONENTS]
    headers = {}
    if body:
        digest = content_digest(body)
        headers["Content-Digest"] = digest
        components.append((DIGEST_COMPONENT, digest))
    params = (("created", created), ("expires", expires), ("keyid", keyid), ("nonce", nonce), ("alg", ALGORITHM))
    signature_params = serialize_signature_params([name for name, _ in components], params)
    sig = sign(seed, b"", signature_base(components, signature_params))
    headers["Signature-Input"] = f"{LABEL}={signature_params}"
    headers["Signature"] = f"{LABEL}=:{_b64(sig)}:"
    return headers


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSignature:
    """A parsed signature of the profile (module doc); not yet verified."""

    label: str
    components: tuple[str, ...]
    created: int
    expires: int
    keyid: str
    nonce: str
    signature: bytes
    signature_params: str  # the serialised inner list, as the base holds it

    @property
    def covers_digest(self) -> bool:
        return DIGEST_COMPONENT in self.components


def parse_request_signature(signature_input: str, signature: str) -> RequestSignature:
    """Parse and check the two fields against the profile (module doc).
    Raises BadRequestSignature naming what is wrong."""
    inputs = parse_dictionary(signature_input, "Signature-Input")
    signatures = parse_dictionary(signature, "Signature")
    if len(inputs) != 1 or len(signatures) != 1:
        raise BadRequestSignature(f"expected exactly one signature, got {len(inputs)} in Signature-Input and "
                                  f"{len(signatures)} in Signature")
    (label, member), = inputs.items()
    if label not in signatures:
        raise BadRequestSignature(f"Signature has no member {label!r} (the label of Signature-Input)")
    sig = signatures[label]
    if member.items is None:
        raise BadRequestSignature(f"Signature-Input: {label} is not an inner list of components")
    if not isinstance(sig.value, bytes) or sig.items is not None or len(sig.value) != 64:
        raise BadRequestSignature(f"Signature: {label} is not a 64-byte byte sequence (an Ed25519 signature)")
    components = []
    for item, item_params in member.items:
        if not isinstance(item, str):
            raise BadRequestSignature("Signature-Input: every component is a string")
        if item_params:
            raise BadRequestSignature(f"Signature-Input: component {item!r} has parameters; none are used here")
        components.append(item)
    if len(set(components)) != len(components):
        raise BadRequestSignature("Signature-Input: a component is listed twice")
    missing = [c for c in BASE_COMPONENTS if c not in components]
    if missing:
        raise BadRequestSignature(f"Signature-Input: the signature must cover {', '.join(missing)}")
    extra = [c for c in components if c not in BASE_COMPONENTS and c != DIGEST_COMPONENT]
    if extra:
        raise BadRequestSignature(f"Signature-Input: component {extra[0]!r} is not used here (only "
                                  f"{', '.join(BASE_COMPONENTS)} and {DIGEST_COMPONENT})")
    params = dict(member.params)
    unknown = [p for p in params if p not in _PARAM_ORDER]
    if unknown:
        raise BadRequestSignature(f"Signature-Input: unknown parameter {unknown[0]!r}")
    for name in _REQUIRED_PARAMS:
        if name not in params:
            raise BadRequestSignature(f"Signature-Input: parameter {name!r} is required")
    for name in ("created", "expires"):
        if type(params[name]) is not int or params[name] < 0:
            raise BadRequestSignature(f"Signature-Input: {name} must be unix seconds (an integer)")
    for name in ("keyid", "nonce"):
        if type(params[name]) is not str or not params[name]:
            raise BadRequestSignature(f"Signature-Input: {name} must be a non-empty string")
    if "alg" in params and params["alg"] != ALGORITHM:
        raise BadRequestSignature(f"Signature-Input: alg must be {ALGORITHM!r}, got {params['alg']!r}")
    return RequestSignature(
        label=label, components=tuple(components), created=params["created"], expires=params["expires"],
        keyid=params["keyid"], nonce=params["nonce"], signature=sig.value,
        signature_params=serialize_signature_params(components, member.params))


def verify_request_signature(parsed: RequestSignature, public_key: bytes, *, method: str, path: str, query: str,
                             content_digest_field: str | None) -> bool:
    """Whether `parsed` is `public_key`'s signature over this request's
    components (the caller checks the window, the nonce and the body's digest)."""
    values = _component_values(method, path, query)
    if parsed.covers_digest:
        if content_digest_field is None:
            raise BadRequestSignature("the signature covers content-digest but the request has no Content-Digest")
        values[DIGEST_COMPONENT] = content_digest_field.strip(" \t")
    base = signature_base([(c, values[c]) for c in parsed.components], parsed.signature_params)
    return verify(public_key, b"", base, parsed.signature)
