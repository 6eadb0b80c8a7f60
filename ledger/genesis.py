"""genesis.json: the registry's starting state (DESIGN.md "Formats that outside
tools rely on").

::

    {chain_id, created_at, time_zone?,
     units:   [{path, name, kind}],
     members: [{member_id, unit, status, roles, public_key, name?}],
     nodes:   [{node_id, public_key, peer_addr, role: voter|learner}]}

``time_zone`` is the chain's zone, an IANA name (default
``Asia/Ho_Chi_Minh``, ledger/timefmt.py's ``DEFAULT_ZONE``): monthly figures
are bucketed by calendar month in this zone, so every node puts a meeting
held at 23:30 on the last day of a month in the same month, whatever its own
clock or display zone says. A genesis without it gets the default (its hash
is unchanged: the default is not written into it).

Bytes are base64url without padding. A member's ``roles`` entry is a role name
(held in the member's own unit) or ``{role, unit}``. More top-level fields may
follow (they are kept and hashed); entries reject unknown fields.

``genesis_hash`` = sha256(canonical(the genesis object with every public key
decoded to bytes)), raw 32 bytes: a ledger store remembers it and refuses to
open with any other genesis.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

from .documents import is_member_id, is_org_path
from .encoding import canonical
from .errors import InvalidInput
from .jsonfmt import b64d
from .schemas import NODE_ROLES, ROLES
from .timefmt import DEFAULT_ZONE, zone

__all__ = ["Genesis", "GENESIS_MEMBER_STATUSES"]

GENESIS_MEMBER_STATUSES = ("probationary", "full")
_UNIT_FIELDS = {"path", "name", "kind"}
_MEMBER_FIELDS = {"member_id", "unit", "status", "roles", "public_key"}
_NODE_FIELDS = {"node_id", "public_key", "peer_addr", "role"}


def _fields(obj: Any, path: str, required: set, optional: set = frozenset()) -> None:
    if not isinstance(obj, dict):
        raise InvalidInput(path, "expected an object")
    for f in sorted(required):
        if f not in obj:
            raise InvalidInput(f"{path}.{f}", "missing required field")
    unknown = sorted(str(k) for k in obj if k not in required and k not in optional)
    if unknown:
        raise InvalidInput(path, f"unknown field(s): {', '.join(unknown)}")


def _name(v: Any, path: str) -> str:
    if not isinstance(v, str) or not v:
        raise InvalidInput(path, "expected a non-empty string")
    return v


def _list(obj: dict, key: str) -> list:
    v = obj.get(key)
    if not isinstance(v, list):
        raise InvalidInput(key, "expected a list")
    return v


@dataclass(frozen=True, slots=True, kw_only=True)
class Genesis:
    """A validated genesis.json; `units`, `members` and `nodes` hold decoded entries."""

    chain_id: str
    created_at: int
    units: tuple
    members: tuple
    nodes: tuple
    time_zone: str = DEFAULT_ZONE
    raw: dict = field(repr=False, compare=False)
    genesis_hash: bytes = field(repr=False)

    @property
    def root(self) -> str:
        return next(u["path"] for u in self.units if "/" not in u["path"])

    def to_json(self) -> dict:
        return copy.deepcopy(self.raw)

    @classmethod
    def from_json(cls, obj: Any) -> "Genesis":
        if not isinstance(obj, dict):
            raise InvalidInput("", "genesis: expected an object")
        for f in ("chain_id", "created_at", "units", "members", "nodes"):
            if f not in obj:
                raise InvalidInput(f, "missing required field")
        chain_id = _name(obj["chain_id"], "chain_id")
        created_at = obj["created_at"]
        if type(created_at) is not int or created_at < 0:
            raise InvalidInput("created_at", "expected unix milliseconds (int >= 0)")
        time_zone = obj.get("time_zone", DEFAULT_ZONE)
        if type(time_zone) is not str or not time_zone:
            raise InvalidInput("time_zone", f"expected an IANA time zone name such as {DEFAULT_ZONE}")
        try:
            zone(time_zone)
        except InvalidInput as exc:
            raise InvalidInput("time_zone", exc.rule) from None
        units, paths = [], set()
        for i, u in enumerate(_list(obj, "units")):
            p = f"units[{i}]"
            _fields(u, p, _UNIT_FIELDS)
            if not is_org_path(u["path"]):
                raise InvalidInput(f"{p}.path", "expected an org path (lowercase segments [a-z0-9-]+ joined by /)")
            if u["path"] in paths:
                raise InvalidInput(f"{p}.path", f"duplicate unit {u['path']!r}")
            _name(u["name"], f"{p}.name")
            _name(u["kind"], f"{p}.kind")
            paths.add(u["path"])
            units.append(dict(u))
        roots = [u["path"] for u in units if "/" not in u["path"]]
        if len(roots) != 1:
            raise InvalidInput("units", f"expected exactly one root unit (a path without '/'), got {len(roots)}")
        for i, u in enumerate(units):
            parent = u["path"].rpartition("/")[0]
            if parent and parent not in paths:
                raise InvalidInput(f"units[{i}].path", f"parent unit {parent!r} is not in units")
        members, ids, keys = [], set(), set()
        for i, m in enumerate(_list(obj, "members")):
            p = f"members[{i}]"
            _fields(m, p, _MEMBER_FIELDS, {"name"})
            if not is_member_id(m["member_id"]):
                raise InvalidInput(f"{p}.member_id", "expected a member id")
            if m["member_id"] in ids:
                raise InvalidInput(f"{p}.member_id", f"duplicate member {m['member_id']!r}")
            if not isinstance(m["unit"], str) or m["unit"] not in paths:
                raise InvalidInput(f"{p}.unit", f"no unit {m['unit']!r} in units")
            if m["status"] not in GENESIS_MEMBER_STATUSES:
                raise InvalidInput(f"{p}.status", f"expected one of {', '.join(GENESIS_MEMBER_STATUSES)}")
            if not isinstance(m["roles"], list):
                raise InvalidInput(f"{p}.roles", "expected a list")
            for j, r in enumerate(m["roles"]):
                rp = f"{p}.roles[{j}]"
                if isinstance(r, dict):
                    _fields(r, rp, {"role", "unit"})
                    if not isinstance(r["unit"], str) or r["unit"] not in paths:
                        raise InvalidInput(f"{rp}.unit", f"no unit {r['unit']!r} in units")
                    role = r["role"]
                else:
                    role = r
                if role not in ROLES:
                    raise InvalidInput(rp if not isinstance(r, dict) else f"{rp}.role",
                                       f"expected one of {', '.join(ROLES)}, got {role!r}")
            if "name" in m:
                _name(m["name"], f"{p}.name")
            key = b64d(m["public_key"], f"{p}.public_key", length=32)
            if key in keys:
                raise InvalidInput(f"{p}.public_key", "key already used by another member")
            ids.add(m["member_id"])
            keys.add(key)
            members.append(dict(m, public_key=key))
        nodes, nids, nkeys = [], set(), set()
        for i, n in enumerate(_list(obj, "nodes")):
            p = f"nodes[{i}]"
            _fields(n, p, _NODE_FIELDS)
            if not is_member_id(n["node_id"]):
                raise InvalidInput(f"{p}.node_id", "expected a node id")
            if n["node_id"] in nids:
                raise InvalidInput(f"{p}.node_id", f"duplicate node {n['node_id']!r}")
            if n["role"] not in NODE_ROLES:
                raise InvalidInput(f"{p}.role", "expected voter or learner")
            _name(n["peer_addr"], f"{p}.peer_addr")
            key = b64d(n["public_key"], f"{p}.public_key", length=32)
            if key in nkeys:
                raise InvalidInput(f"{p}.public_key", "key already used by another node")
            nids.add(n["node_id"])
            nkeys.add(key)
            nodes.append(dict(n, public_key=key))
        if not any(n["role"] == "voter" for n in nodes):
            raise InvalidInput("nodes", "genesis needs at least one voter")
        hashed = dict(obj, members=members, nodes=nodes, units=units)
        try:
            digest = hashlib.sha256(canonical(hashed)).digest()
        except InvalidInput as exc:
            raise InvalidInput(exc.field, exc.rule) from None
        return cls(chain_id=chain_id, created_at=created_at, units=tuple(units), members=tuple(members),
                   nodes=tuple(nodes), time_zone=time_zone, raw=copy.deepcopy(obj), genesis_hash=digest)
