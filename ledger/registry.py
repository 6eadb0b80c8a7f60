"""The registry: org units, members, roles, member keys and nodes, as a
deterministic state machine over documents.

Theory of operation. The state lives in a key-value view (an ``Overlay`` while
a block is applied, the ``Store`` for read-only admission checks) under
``r/``; every value is canonical bytes. :meth:`Registry.check` reads only;
:meth:`Registry.apply` runs the same checks while building a plan (every key
to put or delete), then writes the plan -- so a document that raises writes
nothing. Every node applies the same documents in the same order at the same
block time (``at_ms``), iterating sorted keys only and reading no clock, so
every node reaches the same :meth:`state_hash`: a running
``sha256(previous || doc_id || sha256(canonical(changes)))``, O(1) per call.

Rules (DESIGN.md "Documents"; ``X in U+`` means X holds the role in unit U or
in an ancestor of U -- a higher committee can act for a lower one):

- every signer is a known *active* member (probationary or full) and signs with
  one of its registered keys that is not revoked at ``at_ms`` (a key revoked
  in block time T signs nothing applied at T or later); all signatures verify;
- ``doc.org`` is an open unit, and the unit a document concerns is ``doc.org``
  or below it;
- records (minutes, resolution, inspection_finding, profile_entry,
  directive): one per real-world act and amendable; their rules live in
  ledger/registry_records.py; committee work (directive answers, task
  reports, polls) in ledger/registry_committee.py. This module holds the
  core (signers, units, members, roles, keys, nodes) and the dispatch;
- member_status: a signer is secretary or deputy_secretary in ``U+`` where U
  is the member's unit (for ``admitted``: ``doc.org``, the new member's unit);
  a transfer also needs that role in ``to_org+``; transitions: :data:`TRANSITIONS`;
  a transfer, a ``dismissal`` or a terminal change drops the member's roles
  (dismissal is removal from office -- the disciplinary ladder is reprimand,
  warning, dismissal, expulsion -- so the member stays a member, in status);
- org_unit, role, member_key: a signer is secretary in ``parent(U)+`` where U
  is the unit concerned (the created/closed unit, the role's unit, the
  member's unit); when U is the root, the root's secretary;
  units are created under an open parent with a fresh path and closed only
  with no open children and no active members (never the root); a unit
  records the block times it was created and closed at (``created_at``,
  ``closed_at``; genesis units: genesis ``created_at``), so a directive can
  tell the units that existed when it was issued; a role is
  granted to an active member who lacks it, revoked only if held; a key is
  added once (keys are unique across members) and revoked once;
- node (``doc.org`` is the root): the root's secretary signs; ``add`` a voter
  or learner with a fresh node id and key; ``add`` with role voter for an
  existing learner with the same key *promotes* it (so the offline verifier's
  add/remove reading of node documents stays right); ``remove`` a node, never
  the last voter.

Keys: ``r/h`` state hash; ``r/root``; ``r/u/<path>`` unit {path, name, kind,
status, created_at, closed_at?}; ``r/c/<parent>\\0<child>``;
``r/m/<id>`` member; ``r/um/<unit>\\0<id>``; ``r/ro/<id>`` roles [[unit, role]...];
``r/k/<id>\\0<key>`` {added_at, revoked_at}; ``r/kk/<key>`` member id;
``r/n/<node_id>`` node; ``r/nk/<key>`` node id. The record and committee
modules list theirs.
"""

from __future__ import annotations

import hashlib
from types import MappingProxyType
from typing import Any

import msgpack

from .documents import Envelope
from .encoding import canonical, canonical_of_checked
from .errors import BadSignature, InvalidInput, NotPermitted, Rejected
from .genesis import Genesis
from .orgpaths import ancestors, is_under, parent_path
from .registry_committee import CommitteeRules
from .registry_records import RecordRules
from .schemas import ACTIVE_STATUSES, AMENDABLE

__all__ = ["Registry", "Genesis", "TRANSITIONS", "ACTIVE", "TERMINAL", "DROPS_ROLES", "STATE_PREFIX", "ancestors"]

STATE_PREFIX = b"r/"
ACTIVE = ACTIVE_STATUSES
TERMINAL = frozenset({"expelled", "resigned", "deceased"})
DROPS_ROLES = frozenset({"transferred", "dismissal"})  # changes that end every role the member holds
_LIVE = ("probationary", "full", "suspended")

# change -> (statuses it may follow, resulting status; None keeps the status).
# "admitted" needs the member not to exist; "reinstated" restores the status held before suspension.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "admitted": ((), "probationary"),
    "made_full": (("probationary",), "full"),
    "transferred": (_LIVE, None),
    "award": (_LIVE, None),
    "warning": (_LIVE, None),
    "reprimand": (_LIVE, None),
    "dismissal": (_LIVE, None),  # removal from office: roles go, membership stays
    "expelled": (_LIVE, "expelled"),
    "resigned": (_LIVE, "resigned"),
    "deceased": (_LIVE, "deceased"),
    "suspended": (("probationary", "full"), "suspended"),
    "reinstated": (("suspended",), None),
}

_H, _ROOT = b"r/h", b"r/root"
_OFFICERS = ("secretary", "deputy_secretary")
_unpack = msgpack.unpackb
_packb = msgpack.Packer(use_bin_type=True).pack


def _dec(v: bytes) -> Any:
    return _unpack(v, raw=False)


# Encoded flat record (member, key, unit) -> its decoded value as a read-only mapping, shared
# by every read through Registry._peek. Keyed by the bytes themselves, so it is never stale:
# a record that changes has other bytes. Read-only (MappingProxyType) so no caller can change
# what another sees. Bounded: cleared when full (it is only a shortcut past decoding).
_SHARED: dict[bytes, Any] = {}
_SHARED_MAX = 8192


def _dec_shared(v: bytes) -> Any:
    value = _SHARED.get(v)
    if value is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        value = _SHARED[v] = MappingProxyType(_unpack(v, raw=False))
    return value


class _Plan:
    """Pending writes of one document: reads see them, nothing touches the view.

    Values are encoded when put (registry values are built from validated
    documents: no second walk to check them), except in a plan that only
    checks (``encode=False``, admission): there a value is encoded only if
    the plan reads it back, since nothing is written."""

    __slots__ = ("view", "changes", "encode")

    def __init__(self, view, *, encode: bool = True) -> None:
        self.view = view
        self.changes: dict[bytes, Any] = {}
        self.encode = encode

    def get(self, key: bytes) -> bytes | None:
        changes = self.changes
        if key in changes:
            v = changes[key]
            if v is not None and type(v) is not bytes:
                v = changes[key] = canonical_of_checked(v)
            return v
        return self.view.get(key)

    def put(self, key: bytes, value: Any) -> None:
        self.changes[key] = value if type(value) is bytes or not self.encode else canonical_of_checked(value)

    def delete(self, key: bytes) -> None:
        self.changes[key] = None


class Registry(RecordRules, CommitteeRules):
    """Registry state in `view` (anything with get/scan; put/delete to apply).

    The rules of records and of committee work come from the two mixins; the
    dispatch (:meth:`_plan`) is here.
    """

    def __init__(self, view) -> None:
        self.view = view

    # -- bootstrap -----------------------------------------------------------

    @classmethod
    def bootstrap(cls, view, genesis: Genesis) -> "Registry":
        if isinstance(genesis, dict):
            genesis = Genesis.from_json(genesis)
        p = _Plan(view)
        at = genesis.created_at
        p.put(_ROOT, genesis.root.encode())
        for u in genesis.units:
            p.put(b"r/u/" + u["path"].encode(), {"path": u["path"], "name": u["name"], "kind": u["kind"],
                                                 "status": "open", "created_at": at})
            parent = parent_path(u["path"])
            if parent is not None:
                p.put(b"r/c/" + parent.encode() + b"\0" + u["path"].encode(), b"")
        for m in genesis.members:
            mid = m["member_id"]
            rec = {"member_id": mid, "unit": m["unit"], "status": m["status"]}
            if "name" in m:
                rec["name"] = m["name"]
            p.put(b"r/m/" + mid.encode(), rec)
            p.put(b"r/um/" + m["unit"].encode() + b"\0" + mid.encode(), b"")
            roles = sorted({(r, m["unit"]) if isinstance(r, str) else (r["role"], r["unit"]) for r in m["roles"]})
            if roles:
                p.put(b"r/ro/" + mid.encode(), sorted([unit, role] for role, unit in roles))
            key = m["public_key"]
            p.put(b"r/k/" + mid.encode() + b"\0" + key, {"added_at": at, "revoked_at": None})
            p.put(b"r/kk/" + key, mid.encode())
        for n in genesis.nodes:
            p.put(b"r/n/" + n["node_id"].encode(), dict(n))
            p.put(b"r/nk/" + n["public_key"], n["node_id"].encode())
        p.put(_H, hashlib.sha256(b"minutebook/registry/v1\0" + genesis.genesis_hash).digest())
        for k in sorted(p.changes):
            view.put(k, p.changes[k])
        return cls(view)

    # -- queries ---------------------------------------------------------------

    def _get(self, view, key: bytes) -> Any:
        v = view.get(key)
        return None if v is None else _dec(v)

    def _peek(self, view, key: bytes) -> Any:
        """A member, key or unit record (a flat map) to read, never to change: a shared
        read-only mapping (see _SHARED), so the same record is decoded once, not per read."""
        v = view.get(key)
        return None if v is None else _dec_shared(v)

    def state_hash(self) -> bytes:
        h = self.view.get(_H)
        if h is None:
            raise Rejected("the registry has no state (bootstrap was not run)")
        return h

    def root(self) -> str:
        r = self.view.get(_ROOT)
        return "" if r is None else r.decode()

    def member(self, member_id: str) -> dict | None:
        m = self._get(self.view, b"r/m/" + member_id.encode())
        if m is not None:
            m["roles"] = [{"role": role, "unit": unit} for unit, role in self._roles(self.view, member_id)]
        return m

    def unit(self, path: str) -> dict | None:
        u = self._get(self.view, b"r/u/" + path.encode())
        if u is not None:
            u["parent"] = parent_path(path)
        return u

    def children(self, path: str) -> list[dict]:
        prefix = b"r/c/" + path.encode() + b"\0"
        return [self.unit(k[len(prefix):].decode()) for k, _ in self.view.scan(prefix)]

    def members_of(self, path: str) -> list[str]:
        prefix = b"r/um/" + path.encode() + b"\0"
        return [k[len(prefix):].decode() for k, _ in self.view.scan(prefix)]

    def _roles(self, view, member_id: str) -> list:
        r = view.get(b"r/ro/" + member_id.encode())
        return [] if r is None else _dec(r)

    def has_role(self, member_id: str, role: str, org: str) -> bool:
        return self._has_role(self.view, member_id, (role,), org)

    def _has_role(self, view, member_id: str, roles: tuple, org: str, *, exact: bool = False) -> bool:
        held = self._roles(view, member_id)
        if not held:
            return False
        units = {org} if exact else set(ancestors(org))
        return any(unit in units and role in roles for unit, role in held)

    def member_keys(self, member_id: str) -> list[dict]:
        prefix = b"r/k/" + member_id.encode() + b"\0"
        return [dict(_dec(v), public_key=k[len(prefix):]) for k, v in self.view.scan(prefix)]

    def nodes(self) -> list[dict]:
        return [_dec(v) for _, v in self.view.scan(b"r/n/")]

    def voters(self) -> list[str]:
        return [n["node_id"] for n in self.nodes() if n["role"] == "voter"]

    def learners(self) -> list[str]:
        return [n["node_id"] for n in self.nodes() if n["role"] == "learner"]

    def node_key(self, node_id: str) -> bytes | None:
        n = self._get(self.view, b"r/n/" + node_id.encode())
        return None if n is None else n["public_key"]

    # -- check and apply -------------------------------------------------------

    def check(self, envelope: Envelope, at_ms: int) -> None:
        """Full admission check against the current state; mutates nothing."""
        self._plan(envelope, at_ms, encode=False)

    def apply(self, envelope: Envelope, at_ms: int) -> None:
        """`check`, then write its changes and advance the state hash."""
        plan = self._plan(envelope, at_ms)
        changes = sorted(plan.changes.items())
        # canonical([[key, value], ...]): bytes and None only, so msgpack's own encoding is canonical
        digest = hashlib.sha256(_packb([[k, v] for k, v in changes])).digest() if changes else _EMPTY
        h = hashlib.sha256(self.state_hash() + bytes.fromhex(envelope.doc_id) + digest).digest()
        view = self.view
        for k, v in changes:
            if v is None:
                view.delete(k)
            else:
                view.put(k, v)
        view.put(_H, h)

    def _plan(self, env: Envelope, at_ms: int, *, encode: bool = True) -> _Plan:
        if type(at_ms) is not int or at_ms < 0:
            raise InvalidInput("at_ms", "expected unix milliseconds")
        p = _Plan(self.view, encode=encode)
        doc = env.doc
        if not env.sigs:
            raise BadSignature("", "the envelope has no signature")
        signers = []
        for i, s in enumerate(env.sigs):
            self._check_signer(p, s.signer, s.key, doc.org, at_ms, f"sigs[{i}].key")
            signers.append(s.signer)
        env.verify_signatures()
        org = self._peek(p, b"r/u/" + doc.org.encode())
        if org is None or org["status"] != "open":
            raise Rejected(f"doc.org {doc.org!r} is not an open unit")
        if doc.type in AMENDABLE:
            self._do_record(p, doc, signers, at_ms)
        else:
            getattr(self, "_do_" + doc.type)(p, doc, doc.body, signers, at_ms)
        return p

    def _check_signer(self, p, signer: str, key: bytes, org: str, at_ms: int, field: str = "sigs") -> None:
        m = self._peek(p, b"r/m/" + signer.encode())
        if m is None:
            raise NotPermitted(signer, "member", org, f"signer {signer} is not a registered member")
        if m["status"] not in ACTIVE:
            raise NotPermitted(signer, "member", org, f"signer {signer} is {m['status']}, not an active member")
        k = self._peek(p, b"r/k/" + signer.encode() + b"\0" + key)
        if k is None:
            raise BadSignature(signer, f"the key of {signer}'s signature is not one of its registered keys",
                               field=field)
        if k["revoked_at"] is not None and at_ms >= k["revoked_at"]:
            raise BadSignature(signer, f"the key of {signer}'s signature was revoked at {k['revoked_at']}",
                               field=field)

    def _need_role(self, p, signers, roles: tuple, unit: str, org: str, *, exact: bool = False) -> str:
        for s in signers:
            if self._has_role(p, s, roles, unit, exact=exact):
                return s
        where = unit if exact else f"{unit} or an ancestor"
        raise NotPermitted(signers[0], "|".join(roles), org,
                           f"no signer holds {' or '.join(roles)} in {where}")

    def _governor(self, p, signers, unit: str, org: str) -> None:
        """Secretary of the parent of `unit` (or above); for the root, its own secretary."""
        parent = parent_path(unit)
        self._need_role(p, signers, ("secretary",), parent if parent is not None else unit, org)

    @staticmethod
    def _concerns(org: str, unit: str) -> None:
        if not is_under(unit, org):
            raise Rejected(f"the document concerns {unit!r}, which is not {org!r} or below it")

    def _officer(self, p, signers, unit: str, org: str, *, exact: bool = False) -> str:
        """A signer who is secretary or deputy_secretary in `unit` (or an ancestor, unless `exact`)."""
        return self._need_role(p, signers, _OFFICERS, unit, org, exact=exact)

    def _open_unit(self, p, path: str, field: str) -> dict:
        u = self._peek(p, b"r/u/" + path.encode())
        if u is None:
            raise Rejected(f"{field}: no unit {path!r}")
        if u["status"] != "open":
            raise Rejected(f"{field}: unit {path!r} is closed")
        return u

    def _member(self, p, member_id: str, field: str) -> dict:
        m = self._peek(p, b"r/m/" + member_id.encode())
        if m is None:
            raise Rejected(f"{field}: no member {member_id!r}")
        return m

    # -- per type ----------------------------------------------------------------

    def _do_member_status(self, p, doc, body, signers, at_ms) -> None:
        mid, change = body["member"], body["change"]
        key = b"r/m/" + mid.encode()
        allowed, result = TRANSITIONS[change]
        if change == "admitted":
            if p.get(key) is not None:
                raise Rejected(f"body.member: member {mid!r} already exists")
            self._officer(p, signers, doc.org, doc.org)
            rec = {"member_id": mid, "unit": doc.org, "status": result}
            if "name" in body:
                rec["name"] = body["name"]
            p.put(key, rec)
            p.put(b"r/um/" + doc.org.encode() + b"\0" + mid.encode(), b"")
            if "public_key" in body:
                self._add_key(p, mid, body["public_key"], at_ms)
            return
        m = self._member(p, mid, "body.member")
        unit = m["unit"]
        self._concerns(doc.org, unit)
        self._officer(p, signers, unit, doc.org)
        if m["status"] not in allowed:
            raise Rejected(f"body.change: {change} is not allowed for a member who is {m['status']}")
        rec = dict(m)
        if change == "transferred":
            to = body["to_org"]
            self._open_unit(p, to, "body.to_org")
            if to == unit:
                raise Rejected(f"body.to_org: {mid} is already in {to}")
            self._officer(p, signers, to, doc.org)
            rec["unit"] = to
            p.delete(b"r/um/" + unit.encode() + b"\0" + mid.encode())
            p.put(b"r/um/" + to.encode() + b"\0" + mid.encode(), b"")
        elif change == "suspended":
            rec["prior"] = m["status"]
        elif change == "reinstated":
            rec["status"] = rec.pop("prior", "full")
        if result is not None and change != "reinstated":
            rec["status"] = result
        if change in DROPS_ROLES or rec["status"] in TERMINAL:
            if p.get(b"r/ro/" + mid.encode()) is not None:
                p.delete(b"r/ro/" + mid.encode())
        if rec != m:
            p.put(key, rec)

    def _add_key(self, p, mid: str, key: bytes, at_ms: int) -> None:
        owner = p.get(b"r/kk/" + key)
        if owner is not None:
            raise Rejected(f"body.public_key: the key is already registered (to {owner.decode()})")
        p.put(b"r/k/" + mid.encode() + b"\0" + key, {"added_at": at_ms, "revoked_at": None})
        p.put(b"r/kk/" + key, mid.encode())

    def _do_member_key(self, p, doc, body, signers, at_ms) -> None:
        mid, key = body["member"], body["public_key"]
        m = self._member(p, mid, "body.member")
        self._concerns(doc.org, m["unit"])
        self._governor(p, signers, m["unit"], doc.org)
        if body["action"] == "add":
            if m["status"] not in ACTIVE:
                raise Rejected(f"body.member: {mid} is {m['status']}, keys are added only for active members")
            self._add_key(p, mid, key, at_ms)
            return
        k = self._get(p, b"r/k/" + mid.encode() + b"\0" + key)
        if k is None:
            raise Rejected(f"body.public_key: not a key of {mid}")
        if k["revoked_at"] is not None:
            raise Rejected(f"body.public_key: already revoked at {k['revoked_at']}")
        p.put(b"r/k/" + mid.encode() + b"\0" + key, {"added_at": k["added_at"], "revoked_at": at_ms})

    def _do_role(self, p, doc, body, signers, at_ms) -> None:
        mid, role, unit = body["member"], body["role"], body["unit"]
        self._open_unit(p, unit, "body.unit")
        self._concerns(doc.org, unit)
        self._governor(p, signers, unit, doc.org)
        m = self._member(p, mid, "body.member")
        held = self._roles(p, mid)
        entry = [unit, role]
        if body["action"] == "grant":
            if m["status"] not in ACTIVE:
                raise Rejected(f"body.member: {mid} is {m['status']}, roles go only to active members")
            if entry in held:
                raise Rejected(f"body.role: {mid} already holds {role} in {unit}")
            p.put(b"r/ro/" + mid.encode(), sorted(held + [entry]))
        else:
            if entry not in held:
                raise Rejected(f"body.role: {mid} does not hold {role} in {unit}")
            rest = [e for e in held if e != entry]
            if rest:
                p.put(b"r/ro/" + mid.encode(), rest)
            else:
                p.delete(b"r/ro/" + mid.encode())

    def _do_org_unit(self, p, doc, body, signers, at_ms) -> None:
        path = body["path"]
        self._concerns(doc.org, path)
        self._governor(p, signers, path, doc.org)
        key = b"r/u/" + path.encode()
        parent = parent_path(path)
        if body["action"] == "create":
            if p.get(key) is not None:
                raise Rejected(f"body.path: unit {path!r} already exists")
            if parent is None:
                raise Rejected("body.path: a second root unit cannot be created")
            self._open_unit(p, parent, "body.path (parent)")
            p.put(key, {"path": path, "name": body["name"], "kind": body["kind"], "status": "open",
                        "created_at": at_ms})
            p.put(b"r/c/" + parent.encode() + b"\0" + path.encode(), b"")
            return
        self._open_unit(p, path, "body.path")
        if parent is None:
            raise Rejected("body.path: the root unit cannot be closed")
        prefix = b"r/c/" + path.encode() + b"\0"
        for k, _ in self.view.scan(prefix):
            if self._get(p, b"r/u/" + k[len(prefix):])["status"] == "open":
                raise Rejected(f"body.path: unit {path!r} has open child {k[len(prefix):].decode()!r}")
        for mid in self.members_of(path):
            if self._get(p, b"r/m/" + mid.encode())["status"] in _LIVE:
                raise Rejected(f"body.path: unit {path!r} still has member {mid!r}")
        u = self._get(p, key)
        u["status"] = "closed"
        u["closed_at"] = at_ms
        p.put(key, u)

    def _do_node(self, p, doc, body, signers, at_ms) -> None:
        root = self.root()
        if doc.org != root:
            raise Rejected(f"doc.org: node documents belong to the root unit {root!r}")
        self._need_role(p, signers, ("secretary",), root, doc.org, exact=True)
        nid = body["node_id"]
        key = b"r/n/" + nid.encode()
        node = self._get(p, key)
        if body["action"] == "add":
            pk = body["public_key"]
            if node is not None:
                if node["role"] == "learner" and body["role"] == "voter" and node["public_key"] == pk:
                    node["role"] = "voter"
                    node["peer_addr"] = body["peer_addr"]
                    p.put(key, node)
                    return
                raise Rejected(f"body.node_id: node {nid!r} already exists as a {node['role']}")
            if p.get(b"r/nk/" + pk) is not None:
                raise Rejected("body.public_key: the key is already a node's key")
            p.put(key, {"node_id": nid, "public_key": pk, "peer_addr": body["peer_addr"], "role": body["role"]})
            p.put(b"r/nk/" + pk, nid.encode())
            return
        if node is None:
            raise Rejected(f"body.node_id: no node {nid!r}")
        if node["role"] == "voter" and self.voters() == [nid]:
            raise Rejected(f"body.node_id: {nid} is the last voter")
        p.delete(key)
        p.delete(b"r/nk/" + node["public_key"])


_EMPTY = hashlib.sha256(canonical([])).digest()
