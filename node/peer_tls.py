"""Mutual TLS 1.3 for peer links, with certificates bound to registry node keys.

Theory of operation
-------------------
Every node has one Ed25519 key, the *node key*, whose 32-byte seed is in its
key file and whose public key is in the registry (genesis ``nodes`` and
``node`` documents). A peer is authentic when the TLS handshake proves it
holds the private key of a public key the registry lists; nothing else (no CA,
no host name, no clock) decides.

Why not "accept any certificate, then check the key": Python's ``ssl`` cannot
ask a TLS client for its certificate without also verifying it (``CERT_NONE``
on a server sends no CertificateRequest; ``CERT_OPTIONAL``/``CERT_REQUIRED``
abort on any chain error), and it has no verify callback. The workarounds
(ctypes into ``SSL_CTX_set_verify``, an application-level signature over the
session) are either unsound or home-made crypto. So OpenSSL verifies a real
chain against trust anchors that *are* the registry:

* **Our certificate** (:func:`node_certificate`): subject
  ``O=minutebook node, CN=<node_id>``, public key = the node key, signed with
  the node key. Its issuer name is ``O=minutebook node key, CN=<node_id>``
  rather than its own subject: OpenSSL accepts a self-issued certificate only
  if that exact certificate is a trust anchor, and the other nodes cannot
  rebuild our certificate (they do not have our key to sign it), so the issuer
  names an anchor they *can* build. Validity is 2000-01-01 .. 9999-12-31
  (RFC 5280 §4.1.2.5): field nodes' clocks drift, and the registry, not an
  expiry date, revokes a node.
* **Trust anchors** (:func:`anchor_certificate`): for each registered node,
  a CA certificate with subject ``O=minutebook node key, CN=<node_id>`` and the
  *registered* public key. RFC 5280 §6.1.1(d): a trust anchor is a name and a
  public key; the certificate is only its carrier. OpenSSL with
  ``VERIFY_X509_PARTIAL_CHAIN`` takes it as an anchor without checking its own
  signature (we sign it with our node key, an attestation of our registry view
  that no one relies on). Path validation then checks the peer certificate's
  signature with the registered key: a key that is not registered has no
  anchor and fails ("unable to get local issuer certificate"); a certificate
  naming a registered node but signed with another key fails ("certificate
  signature failure").
* **Pin check after the handshake** (:func:`authenticate_peer`): the chain
  check alone would let registered node A sign a certificate that names B, or
  that carries a key that is not A's. So we also require: the peer
  certificate's Ed25519 public key equals the registered key of exactly one
  node, its CN is that node's id, and (when we dialled) that node is the one we
  dialled. TLS 1.3's CertificateVerify proves the peer holds that key's
  private half, and the record layer gives integrity and replay protection.

Both sides use ``CERT_REQUIRED``; session tickets are off
(``num_tickets = 0``) so every connection does a full handshake and sees the
registry as it is now; ALPN ``minutebook-peer/1`` keeps other TLS services'
traffic off the link. The registry changes at runtime: :class:`PeerTLS` builds
a context pair per registry snapshot (cached), and the transport takes the
contexts afresh for every connection, so a node removed from the registry is
refused on its next handshake (and its open links are closed by the transport).

The private key reaches OpenSSL through an anonymous in-memory file
(``memfd_create``; a 0600 temporary file where that is missing), PEM-encrypted
under a one-time random password, because ``SSLContext.load_cert_chain``
only reads paths.
"""

from __future__ import annotations

import datetime
import os
import secrets
import ssl
import tempfile
import threading
from typing import Mapping

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.errors import PeerRejected

__all__ = [
    "ALPN_PROTOCOL",
    "node_certificate",
    "anchor_certificate",
    "public_key_of_seed",
    "certificate_public_key",
    "PeerTLS",
    "authenticate_peer",
]

ALPN_PROTOCOL = "minutebook-peer/1"
_NODE_ORG = "minutebook node"
_KEY_ORG = "minutebook node key"
_VIEW_ORG = "minutebook registry view"
_NOT_BEFORE = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)


def _name(organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, digital_signature: bool, key_cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _private_key(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != 32:
        raise ValueError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_of_seed(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of a seed (RFC 8032 §5.1.5; same as pynacl's)."""
    return _private_key(seed).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def node_certificate(node_id: str, seed: bytes) -> x509.Certificate:
    """The certificate a node presents: its node key, signed by its node key (see module doc)."""
    key = _private_key(seed)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(_NODE_ORG, node_id))
        .issuer_name(_name(_KEY_ORG, node_id))
        .public_key(public)
        .serial_number(1)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    return builder.sign(key, None)  # Ed25519 takes no separate hash (RFC 8410 §6)


def anchor_certificate(node_id: str, public_key: bytes, *, viewer_id: str, viewer_seed: bytes) -> x509.Certificate:
    """A trust anchor carrying a registered node's name and public key (RFC 5280 §6.1.1(d))."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(_KEY_ORG, node_id))
        .issuer_name(_name(_VIEW_ORG, viewer_id))
        .public_key(Ed25519PublicKey.from_public_bytes(public_key))
        .serial_number(2)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=False, key_cert_sign=True), critical=True)
    )
    return builder.sign(_private_key(viewer_seed), None)


def certificate_public_key(der: bytes) -> tuple[bytes, str]:
    """(Ed25519 public key, CN) of a DER certificate; raises ValueError if it is not such a certificate."""
    certificate = x509.load_der_x509_certificate(der)
    public = certificate.public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"expected an Ed25519 key, got {type(public).__name__}")
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if len(names) == 1 else ""
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw), common_name


def authenticate_peer(
    ssl_object: ssl.SSLObject | ssl.SSLSocket | None,
    registry: Mapping[str, bytes],
    *,
    expected: str | None = None,
    peer_label: str = "?",
) -> str:
    """The node id the handshake proved, or PeerRejected: the pin check of the module doc.

    `registry` maps node id -> registered public key, as of now; `expected` is
    the node we dialled (None for an inbound connection).
    """
    label = expected or peer_label
    if ssl_object is None:
        raise PeerRejected(label, "not a TLS connection")
    if ssl_object.version() != "TLSv1.3":
        raise PeerRejected(label, f"protocol {ssl_object.version()} is not TLSv1.3")
    if ssl_object.selected_alpn_protocol() != ALPN_PROTOCOL:
        raise PeerRejected(label, f"ALPN {ssl_object.selected_alpn_protocol()!r} is not {ALPN_PROTOCOL!r}")
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise PeerRejected(label, "no peer certificate")
    try:
        public_key, common_name = certificate_public_key(der)
    except ValueError as exc:
        raise PeerRejected(label, f"peer certificate: {exc}") from None
    owners = sorted(node_id for node_id, key in registry.items() if key == public_key)
    if len(owners) != 1:
        reason = "key is not registered" if not owners else f"key is registered to several nodes {owners}"
        raise PeerRejected(label, f"{reason} (key {public_key.hex()})")
    node_id = owners[0]
    if common_name != node_id:
        raise PeerRejected(label, f"certificate names {common_name!r} but its key is {node_id!r}'s")
    if expected is not None and node_id != expected:
        raise PeerRejected(label, f"dialled {expected!r} but {node_id!r} answered")
    return node_id


def _load_cert_chain(context: ssl.SSLContext, certificate: x509.Certificate, seed: bytes) -> None:
    password = secrets.token_bytes(32).hex().encode()
    pem = certificate.public_bytes(serialization.Encoding.PEM) + _private_key(seed).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    if hasattr(os, "memfd_create"):
        descriptor = os.memfd_create("minutebook-peer-key", os.MFD_CLOEXEC)
        try:
            os.write(descriptor, pem)
            context.load_cert_chain(f"/proc/self/fd/{descriptor}", password=password)
        finally:
            os.close(descriptor)
        return
    with tempfile.TemporaryDirectory(prefix="minutebook-tls-") as directory:  # mode 0700
        path = os.path.join(directory, "peer.pem")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, pem)
        finally:
            os.close(descriptor)
        context.load_cert_chain(path, password=password)


class PeerTLS:
    """This node's TLS identity and the contexts for a registry snapshot.

    ``contexts(registry)`` returns ``(server_context, client_context)``, built
    once per distinct registry mapping (node id -> public key) and cached; it
    is safe to call for every connection.
    """

    def __init__(self, node_id: str, seed: bytes) -> None:
        self.node_id = node_id
        self._seed = bytes(seed)
        self.public_key = public_key_of_seed(self._seed)
        self.certificate = node_certificate(node_id, self._seed)
        self._lock = threading.Lock()
        self._cached_for: tuple[tuple[str, bytes], ...] | None = None
        self._cached: tuple[ssl.SSLContext, ssl.SSLContext] | None = None

    def contexts(self, registry: Mapping[str, bytes]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        snapshot = tuple(sorted((node_id, bytes(key)) for node_id, key in registry.items()))
        with self._lock:
            if self._cached is None or snapshot != self._cached_for:
                anchors = self._anchors_pem(snapshot)
                self._cached = (self._context(True, anchors), self._context(False, anchors))
                self._cached_for = snapshot
            return self._cached

    def _anchors_pem(self, snapshot: tuple[tuple[str, bytes], ...]) -> str:
        pems = []
        for node_id, key in snapshot:
            if len(key) != 32:
                continue  # not an Ed25519 key: such a node cannot authenticate
            anchor = anchor_certificate(node_id, key, viewer_id=self.node_id, viewer_seed=self._seed)
            pems.append(anchor.public_bytes(serialization.Encoding.PEM).decode("ascii"))
        return "".join(pems)

    def _context(self, server_side: bool, anchors_pem: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.maximum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False  # identity is the registry key, checked by authenticate_peer
        context.verify_mode = ssl.CERT_REQUIRED
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        context.set_alpn_protocols([ALPN_PROTOCOL])
        if server_side:
            context.num_tickets = 0  # no resumption: every link is a full handshake against today's registry
        context.options |= ssl.OP_NO_TICKET
        if anchors_pem:
            context.load_verify_locations(cadata=anchors_pem)
        _load_cert_chain(context, self.certificate, self._seed)
        return context
