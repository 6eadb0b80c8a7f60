"""Records: one per real-world act, amendments that keep history, and the
signing rules of the record types (minutes, resolution, inspection_finding,
profile_entry; directive's are in ledger/registry_committee.py).

Theory of operation
-------------------
A *record* is an accepted document of an amendable type (schemas.py
``AMENDABLE``). When one applies, the registry

1. runs the type's check, ``_check_<type>(p, org, body, signers, at_ms,
   rec)``, which enforces who signs and what the state must allow, and
   returns the record's *auth*: the few facts the signing rule needs later
   (for minutes their chair and secretary, for a finding the subject's unit,
   for a profile entry the member), so that withdrawing needs no stored body;
2. *claims* the record key (schemas.py ``RECORD_KEYS``: (org, meeting_id),
   (org, number), (inspection_id, subject), ...) under ``r/x/``; a key held
   already is a :class:`~ledger.errors.DuplicateRecord` naming the holder,
   both at admission (409) and on apply (``duplicate_record: ...``), so
   every node refuses the same second record;
3. writes the record ``r/d/<doc id>``: type, org, block time, key, kept
   fields, auth, ``current`` (the doc id of the version in force; null once
   withdrawn) and ``versions`` ([doc id, action], the original first); doc
   ids as 32 raw bytes, since every record of every node keeps them.

An ``amendment`` (``{target, action, reason, body?}``, ``doc.refs ==
[target]``, ``doc.org`` the record's org) then either

- ``amend``: validates ``body.body`` against the original's schema (errors
  name ``body.body.<field>``), runs the original type's check on it (so the
  replacement's own chair and secretary sign new minutes, an inspector above
  the subject a new finding), and requires it to keep the record key and the
  type's ``KEPT_ON_AMEND`` fields and its public or confidential form; or
- ``withdraw``: runs the type's signing rule on the stored auth (the current
  version's chair and secretary must sign to withdraw minutes).

Either appends a version; the original and every amendment stay in the log.
A withdrawn record stays withdrawn (its key stays claimed: the act's history
is one history); amending an amendment is refused with the original's id.
A confidential record (only a commitment on the ledger) has no record key:
its identity is not public.

Keys: ``r/x/<canonical [type, key values...]>`` the record holding the key
(32 raw bytes); ``r/d/<doc id, 32 raw bytes>`` the record; ``r/a/<doc id>``
for each accepted amendment, its record's doc id (32 raw bytes).
"""

from __future__ import annotations

from typing import Any

from .documents import validate_body
from .encoding import canonical, canonical_of_checked
from .errors import DuplicateRecord, InvalidInput, NotPermitted, Rejected
from .orgpaths import is_under
from .schemas import AMENDABLE, KEPT_ON_AMEND, RECORD_KEYS, ROLES

__all__ = ["RecordRules", "record_key"]


def _raw(doc_id: str) -> bytes:
    return bytes.fromhex(doc_id)


def record_key(doc_type: str, org: str, body: dict) -> list | None:
    """``[type, values...]`` identifying the act `body` records (schemas.py
    ``RECORD_KEYS``), or None (no key for the type, or a confidential body)."""
    fields = RECORD_KEYS.get(doc_type)
    if fields is None or "confidential" in body:
        return None
    return [doc_type] + [org if f == "org" else body[f] for f in fields]


def _describe(doc_type: str, key: list) -> str:
    return ", ".join(f"{f} {v!r}" for f, v in zip(RECORD_KEYS[doc_type], key[1:]))


class RecordRules:
    """The record mixin of :class:`~ledger.registry.Registry` (module doc)."""

    # -- queries ---------------------------------------------------------------

    def record(self, doc_id: str) -> dict | None:
        """``{doc_id, type, org, at, current, withdrawn, versions: [{doc_id,
        action}]}`` of a record (an accepted original of an amendable type),
        else None. ``current`` is the doc id of the version in force (the
        original's own id until amended), None once withdrawn."""
        rec = self._record(self.view, doc_id)
        if rec is None:
            return None
        current = rec["current"]
        return {"doc_id": doc_id, "type": rec["type"], "org": rec["org"], "at": rec["at"],
                "current": None if current is None else current.hex(), "withdrawn": current is None,
                "versions": [{"doc_id": d.hex(), "action": a} for d, a in rec["versions"]]}

    def amended_record(self, doc_id: str) -> str | None:
        """For an accepted amendment, the doc id of the record it changed."""
        raw = self.view.get(b"r/a/" + _raw(doc_id))
        return None if raw is None else raw.hex()

    def record_holder(self, doc_type: str, *values: Any) -> str | None:
        """The doc id of the record of ``doc_type`` keyed by `values` (in
        ``RECORD_KEYS`` order, e.g. ``("minutes", org, meeting_id)``), if any."""
        raw = self.view.get(b"r/x/" + canonical([doc_type, *values]))
        return None if raw is None else raw.hex()

    def _record(self, view, doc_id: str) -> dict | None:
        return self._get(view, b"r/d/" + _raw(doc_id))

    # -- one record per act ------------------------------------------------------

    def _claim(self, p, doc_type: str, org: str, body: dict, doc_id: str) -> list | None:
        """Hold the record key of `body` for `doc_id`; DuplicateRecord if it is held."""
        key = record_key(doc_type, org, body)
        if key is None:
            return None
        k = b"r/x/" + canonical_of_checked(key)
        held = p.get(k)
        if held is not None:
            existing = held.hex()
            field = next(f for f in RECORD_KEYS[doc_type] if f != "org")
            hint = "; correct it with an amendment" if doc_type in AMENDABLE else ""
            raise DuplicateRecord(f"body.{field}", existing,
                                  f"a {doc_type} with {_describe(doc_type, key)} is already recorded: document "
                                  f"{existing}{hint}")
        p.put(k, _raw(doc_id))
        return key

    def _do_record(self, p, doc, signers, at_ms) -> None:
        body = doc.body
        auth = getattr(self, "_check_" + doc.type)(p, doc.org, body, signers, at_ms, None)
        key = self._claim(p, doc.type, doc.org, body, doc.doc_id)
        p.put(b"r/d/" + _raw(doc.doc_id), {
            "type": doc.type, "org": doc.org, "at": at_ms, "key": key, "confidential": "confidential" in body,
            "kept": {f: body[f] for f in KEPT_ON_AMEND.get(doc.type, ())}, "auth": auth,
            "current": _raw(doc.doc_id), "versions": [[_raw(doc.doc_id), "original"]]})
        self._new_version(p, doc.type, doc.org, doc.doc_id, body, at_ms, None)

    def _new_version(self, p, doc_type: str, org: str, record_id: str, body: dict, at_ms: int, rec) -> None:
        """The type's own state for a version in force (resolution: its tasks)."""
        hook = getattr(self, "_version_" + doc_type, None)
        if hook is not None:
            hook(p, org, record_id, body, at_ms, rec)

    # -- amendments ----------------------------------------------------------------

    def _do_amendment(self, p, doc, body, signers, at_ms) -> None:
        target = body["target"]
        rec = self._record(p, target)
        if rec is None:
            original = p.get(b"r/a/" + _raw(target))
            if original is not None:
                raise Rejected(f"body.target: {target} is an amendment (of {original.hex()}); amend the record "
                               f"itself")
            raise Rejected(f"body.target: no record {target} to amend or withdraw (an accepted "
                           f"{', '.join(AMENDABLE)})")
        if rec["current"] is None:
            raise Rejected(f"body.target: {target} was withdrawn by {rec['versions'][-1][0].hex()}; a withdrawn "
                           f"record stays withdrawn")
        org = rec["org"]
        if doc.org != org:
            raise Rejected(f"doc.org: an amendment belongs to its record's unit {org!r}, not {doc.org!r}")
        doc_type = rec["type"]
        if body["action"] == "withdraw":
            getattr(self, "_authorise_" + doc_type)(p, org, rec["auth"], signers)
            rec["current"] = None
        else:
            new = body["body"]
            validate_body(doc_type, new, "body.body")
            if ("confidential" in new) != rec["confidential"]:
                form = "confidential" if rec["confidential"] else "public"
                raise InvalidInput("body.body", f"the record is {form}; its replacement must be {form} too")
            rec["auth"] = getattr(self, "_check_" + doc_type)(p, org, new, signers, at_ms, rec)
            key = record_key(doc_type, org, new)
            if key != rec["key"]:
                field, was, got = next((f, a, b) for f, a, b in zip(RECORD_KEYS[doc_type], rec["key"][1:], key[1:])
                                       if a != b)
                raise Rejected(f"body.body.{field}: an amendment keeps the record's {field} ({was!r}), got {got!r}")
            for field, was in rec["kept"].items():
                if new[field] != was:
                    raise Rejected(f"body.body.{field}: an amendment keeps the record's {field} ({was!r}), got "
                                   f"{new[field]!r}")
            self._new_version(p, doc_type, org, target, new, at_ms, rec)
            rec["current"] = _raw(doc.doc_id)
        rec["versions"].append([_raw(doc.doc_id), body["action"]])
        p.put(b"r/d/" + _raw(target), rec)
        p.put(b"r/a/" + _raw(doc.doc_id), _raw(target))

    # -- per type: check (a version's body) and authorise (its stored auth) -------------

    def _check_minutes(self, p, org, body, signers, at_ms, rec) -> dict:
        if body.get("confidential"):
            auth = {"confidential": True}
            self._authorise_minutes(p, org, auth, signers)
            return auth
        auth = {"chair": body["chair"], "secretary": body["secretary"]}
        self._authorise_minutes(p, org, auth, signers)
        for i, vote in enumerate(body["votes"]):
            if "poll" in vote:
                self._check_poll_tally(p, org, vote, f"body.votes[{i}]")
        return auth

    def _authorise_minutes(self, p, org, auth, signers) -> None:
        """The chair and the secretary sign; each is a member of `org` (or below)
        or holds a role in ``org+``. Confidential: a signer holds a role in ``org+``."""
        if auth.get("confidential"):
            self._need_role(p, signers, ROLES, org, org)
            return
        for field in ("chair", "secretary"):
            who = auth[field]
            if who not in signers:
                raise NotPermitted(who, field, org, f"minutes must be signed by body.{field} ({who})")
            m = self._peek(p, b"r/m/" + who.encode())
            if not (is_under(m["unit"], org) or self._has_role(p, who, ROLES, org)):
                raise NotPermitted(who, field, org,
                                   f"body.{field} {who} is neither a member of {org} (or below) nor holds a role there")

    def _check_resolution(self, p, org, body, signers, at_ms, rec) -> dict:
        self._authorise_resolution(p, org, {}, signers)
        return {}

    def _authorise_resolution(self, p, org, auth, signers) -> None:
        """A signer is secretary or deputy_secretary in ``org+``."""
        self._officer(p, signers, org, org)

    def _check_inspection_finding(self, p, org, body, signers, at_ms, rec) -> dict:
        if body.get("confidential"):
            auth = {"unit": org}
        else:
            subject = body["subject"]
            if "unit" in subject:
                unit = subject["unit"]
                if self._get(p, b"r/u/" + unit.encode()) is None:
                    raise Rejected(f"body.subject.unit: no unit {unit!r}")
            else:
                unit = self._member(p, subject["member"], "body.subject.member")["unit"]
            if rec is None:
                self._concerns(org, unit)
            auth = {"unit": unit}
        self._authorise_inspection_finding(p, org, auth, signers)
        return auth

    def _authorise_inspection_finding(self, p, org, auth, signers) -> None:
        """A signer is inspector in ``U+``, U the subject's unit (the subject
        member's unit when the finding was made; confidential: ``org``)."""
        self._need_role(p, signers, ("inspector",), auth["unit"], org)

    def _check_profile_entry(self, p, org, body, signers, at_ms, rec) -> dict:
        auth = {"member": body["member"]}
        unit = self._member(p, body["member"], "body.member")["unit"]
        if rec is None:
            self._concerns(org, unit)
        self._authorise_profile_entry(p, org, auth, signers)
        return auth

    def _authorise_profile_entry(self, p, org, auth, signers) -> None:
        """A signer is secretary or deputy_secretary in ``U+``, U the member's
        unit now (so after a transfer the new unit's officers correct it)."""
        unit = self._member(p, auth["member"], "body.member")["unit"]
        self._officer(p, signers, unit, org)
