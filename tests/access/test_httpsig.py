"""ledger/httpsig.py against RFC 9421's own example (Appendix B.2.6, the
Ed25519 one, with the test key of B.1.4) and RFC 9530's digest of the test
request's body, then the profile's rules: what a verifier refuses."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ledger.errors import BadRequestSignature
from ledger.httpsig import (
    check_content_digest,
    content_digest,
    parse_dictionary,
    parse_request_signature,
    serialize_signature_params,
    sign_request,
    signature_base,
    verify_request_signature,
)
from ledger.keys import public_key, sign

# RFC 9421 B.1.4 "Example Ed25519 Test Key" (test-key-ed25519): the 32-byte seed inside the
# PKCS#8 private key and the raw public key inside its SubjectPublicKeyInfo.
RFC_PRIVATE_PKCS8 = "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF"
RFC_PUBLIC_SPKI = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="
RFC_SEED = base64.b64decode(RFC_PRIVATE_PKCS8)[-32:]
RFC_PUBLIC = base64.b64decode(RFC_PUBLIC_SPKI)[-32:]

# RFC 9421 B.2.6, the signature base and the Signature-Input / Signature fields (unwrapped).
B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_INPUT = ('sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
             ';created=1618884473;keyid="test-key-ed25519"')
B26_SIGNATURE = ("sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:")


def test_rfc_test_key_pair_matches():
    assert public_key(RFC_SEED) == RFC_PUBLIC


def test_rfc9421_b26_signature_base_and_signature_to_the_byte():
    components = [("date", "Tue, 20 Apr 2021 02:07:55 GMT"), ("@method", "POST"), ("@path", "/foo"),
                  ("@authority", "example.com"), ("content-type", "application/json"), ("content-length", "18")]
    params = serialize_signature_params([c for c, _ in components],
                                        (("created", 1618884473), ("keyid", "test-key-ed25519")))
    base = signature_base(components, params)
    assert base == B26_BASE.encode()
    assert "sig-b26=" + params == B26_INPUT
    sig = sign(RFC_SEED, b"", base)  # Ed25519 is deterministic: the RFC's exact bytes
    assert f"sig-b26=:{base64.b64encode(sig).decode()}:" == B26_SIGNATURE


def test_rfc9421_b26_fields_parse_back_to_the_same_params():
    inputs = parse_dictionary(B26_INPUT, "Signature-Input")
    member = inputs["sig-b26"]
    assert [c for c, _ in member.items] == ["date", "@method", "@path", "@authority", "content-type",
                                            "content-length"]
    assert dict(member.params) == {"created": 1618884473, "keyid": "test-key-ed25519"}
    assert serialize_signature_params([c for c, _ in member.items], member.params) == B26_INPUT[len("sig-b26="):]
    sig = parse_dictionary(B26_SIGNATURE, "Signature")["sig-b26"].value
    assert sig == sign(RFC_SEED, b"", B26_BASE.encode())


def test_rfc9530_content_digest_of_the_test_request_body():
    body = b'{"hello": "world"}'
    # RFC 9421 B.2 test-request's Content-Digest (sha-512) and RFC 9530's sha-256 example of that body
    check_content_digest("sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmT"
                         "HWXvJwew==:", body)
    assert content_digest(body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    with pytest.raises(BadRequestSignature, match="does not match"):
        check_content_digest(content_digest(body), body + b" ")
    with pytest.raises(BadRequestSignature, match="no sha-256 or sha-512"):
        check_content_digest("md5=:AAAA:", body)


# -- the profile -----------------------------------------------------------------

SEED = hashlib.sha256(b"httpsig-test").digest()


def _signed(method="GET", path="/v1/members/m1", query="", body=b"", **over):
    args = dict(method=method, path=path, query=query, body=body, keyid="m1", seed=SEED, created=1000,
                expires=1060, nonce="abcDEF0123456789abcdef")
    args.update(over)
    return sign_request(**args)


def _verify(headers, method="GET", path="/v1/members/m1", query="", key=None):
    parsed = parse_request_signature(headers["Signature-Input"], headers["Signature"])
    return verify_request_signature(parsed, key or public_key(SEED), method=method, path=path, query=query,
                                    content_digest_field=headers.get("Content-Digest"))


def test_sign_then_verify_round_trip_and_fields():
    headers = _signed(query="since=1&until=2")
    assert headers["Signature-Input"] == ('mb=("@method" "@path" "@query");created=1000;expires=1060;keyid="m1"'
                                          ';nonce="abcDEF0123456789abcdef";alg="ed25519"')
    assert "Content-Digest" not in headers
    assert _verify(headers, query="since=1&until=2")


@pytest.mark.parametrize("change", [dict(method="POST"), dict(path="/v1/members/m2"), dict(query="x=1"),
                                    dict(key=public_key(hashlib.sha256(b"other").digest()))])
def test_any_change_to_a_covered_component_or_the_key_fails(change):
    assert not _verify(_signed(), **change)


def test_a_body_is_covered_by_its_digest():
    headers = _signed(method="POST", path="/v1/auth/login", body=b'{"a":1}')
    assert headers["Content-Digest"] == content_digest(b'{"a":1}')
    assert '"content-digest"' in headers["Signature-Input"]
    assert _verify(headers, method="POST", path="/v1/auth/login")
    forged = dict(headers, **{"Content-Digest": content_digest(b'{"a":2}')})
    assert not _verify(forged, method="POST", path="/v1/auth/login")


def test_empty_path_and_query_follow_the_rfc():
    headers = _signed(path="", query="")
    parsed = parse_request_signature(headers["Signature-Input"], headers["Signature"])
    assert verify_request_signature(parsed, public_key(SEED), method="GET", path="/", query="",
                                    content_digest_field=None)


@pytest.mark.parametrize("signature_input,signature,message", [
    ('mb=("@method" "@path");created=1;expires=2;keyid="m";nonce="n"', None, "must cover @query"),
    ('mb=("@method" "@path" "@query" "date");created=1;expires=2;keyid="m";nonce="n"', None, "'date' is not used"),
    ('mb=("@method" "@path" "@query");expires=2;keyid="m";nonce="n"', None, "'created' is required"),
    ('mb=("@method" "@path" "@query");created=1;expires=2;keyid="m"', None, "'nonce' is required"),
    ('mb=("@method" "@path" "@query");created=1;expires=2;keyid="m";nonce="n";tag="x"', None, "unknown parameter"),
    ('mb=("@method" "@path" "@query");created=1;expires=2;keyid="m";nonce="n";alg="rsa-pss-sha512"', None,
     "alg must be"),
    ('mb=("@method" "@path" "@query");created="1";expires=2;keyid="m";nonce="n"', None, "unix seconds"),
    ('mb=("@method" "@path" "@method" "@query");created=1;expires=2;keyid="m";nonce="n"', None, "listed twice"),
    ('mb=("@method";req "@path" "@query");created=1;expires=2;keyid="m";nonce="n"', None, "has parameters"),
    ('mb=("@method" "@path" "@query");created=1;expires=2;keyid="m";nonce="n", b=("@method")', None,
     "exactly one signature"),
    ('mb=("@method" "@path" "@query";created=1', None, "inner list"),
    ('mb=("@method" "@path" "@query");created=1.5;expires=2;keyid="m";nonce="n"', None, "decimals"),
    ('mb=("@method" "@path" "@query");created=1;created=2;expires=2;keyid="m";nonce="n"', None, "given twice"),
    (None, "mb=:AAAA:", "64-byte"),
    (None, "other=:" + "A" * 86 + "==:", "no member 'mb'"),
    (None, "mb=:not base64!:", "base64"),
])
def test_profile_violations_are_refused_with_a_reason(signature_input, signature, message):
    good = _signed()
    with pytest.raises(BadRequestSignature, match=message):
        parse_request_signature(signature_input or good["Signature-Input"], signature or good["Signature"])


def test_digest_covered_but_absent_is_refused():
    headers = _signed(method="POST", body=b"x")
    del headers["Content-Digest"]
    with pytest.raises(BadRequestSignature, match="no Content-Digest"):
        _verify(headers, method="POST")


def test_non_ascii_path_cannot_be_signed_or_checked():
    with pytest.raises(BadRequestSignature, match="US-ASCII"):
        _signed(path="/v1/orgs/hà-nội")


def test_whitespace_variants_parse_to_the_same_signature():
    good = _signed()
    spaced = good["Signature-Input"].replace("(", "(  ").replace(" \"@path\"", "   \"@path\"")
    assert _verify(dict(good, **{"Signature-Input": "  " + spaced + " "}))


def test_escaped_strings_parse_and_serialise_back():
    members = parse_dictionary('a="x\\"y\\\\z", b=("p" "q");k="v"', "T")
    assert members["a"].value == 'x"y\\z'
    assert serialize_signature_params(["p", "q"], members["b"].params) == '("p" "q");k="v"'
    with pytest.raises(BadRequestSignature, match="may escape only"):
        parse_dictionary('a="x\\n"', "T")
    with pytest.raises(BadRequestSignature, match="printable ASCII"):
        parse_dictionary('a="tiếng"', "T")
