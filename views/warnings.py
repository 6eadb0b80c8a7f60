"""Early warnings for inspectors: the rules and their thresholds (as data, here only), the state
two of them need kept as blocks apply, and the query that gathers them for a subtree.

The rules (:data:`RULES`; each warning names its ``kind`` and links its evidence documents)
-------------------------------------------------------------------------------------------
=============================  ==========================================================  ==========
kind                           fires when                                                  scope
=============================  ==========================================================  ==========
``overdue_meeting``            a unit of the subtree has had no regular meeting in the      records
                               ``OVERDUE_AFTER_MS`` (31 days) up to as_of (views/stats.py)
``low_attendance``             a unit's attendance against the roll was below ``below``     records
                               (0.5) in each of the ``months`` (3) calendar months before
                               as_of's month, every one of them with a meeting
``absent_without_reason``      a member's ``meetings`` (3) latest meetings by date are all   sensitive
                               absences with no reason given
``task_past_due``              a resolution task of the subtree is not done and its due     records
                               date is before as_of (views/tasks.py)
``directive_not_acknowledged`` units of the subtree have not acknowledged a directive       records
                               (of the unit or above it) whose ``ack_due`` is before as_of
``finding_without_follow_up``  an inspection finding about the subtree has, ``days`` (30)   sensitive
                               days after it reached the ledger, no accepted document
                               that ``refs`` it
``near_duplicate_minutes``     minutes of the period form a group of near-duplicates at      records
                               the node's threshold (views/similarity.py)
``repeated_opinions``          one opinion wording is used in ``meetings`` (3) or more       records
                               meetings of the subtree, or twice in one meeting
=============================  ==========================================================  ==========

``as_of`` is min(until, now). The figures of each kind stand at a height,
given in the answer's ``as_of_height`` (``{kind: height}``): the views'
height, except for :data:`TRAILING_KINDS`, which read the near-duplicate
view at its own height, a little behind while a node is busy (a trailing
view: views/projection.py). The *sensitive* kinds concern members or
findings (discipline-level data): the answer carries them only for a caller
who reads findings and discipline of the unit (its inspectors), and names
them in ``withheld`` otherwise (node/scopes.py).

Which thresholds are the chain's: ``absent_without_reason.meetings`` and
``finding_without_follow_up.days`` decide what this view stores (which
members are listed, which findings are waiting), so they are constants of
the code, identical on every node (changing one is a new view ``version``);
the other thresholds are applied when a question is asked.

State kept as blocks apply
--------------------------
**Absences.** Per member, their K latest attendances by meeting date (K the
rule's ``meetings``), each noted absent-without-reason or not: a new
attendance goes in its place (or is ignored when older than all K), so the
count of unexcused absences at the newest end is exact whatever order the
minutes come in; a correction of minutes reads the K latest again from the
member's whole timeline (``views/timeline.py``: their own entries and the
meetings of the units whose roll they were on). A member whose K latest are all
unexcused absences is listed under the unit of their latest meeting and
every unit above it.

They are kept per unit that met, not per member: one value per unit holds
each attendee's K latest at its meetings, so a block writes one key per
unit that met instead of one per attendee (worked on, decoded and packed
once a block: ``Writer.working``). Each member's list is packed on its own
within it, so a meeting decodes and packs the lists of its attendees only,
and the unit's value decodes to a map of bytes (few objects for the
collector to walk while the block applies). A member's K latest are the K latest of
their lists at the units whose meetings they attended (``w/wu/``, written
when they first attend a unit's meeting); almost everyone attends their own
unit only, and then their list there is their K latest.

**Findings.** A finding waits, under its unit's line, until a document that
``refs`` it is accepted.

Keys::

    w/wa/<unit>                     {member: packed [[date, leaf, unexcused, doc id]]}: each attendee's K
                                    latest attendances at the unit's meetings (oldest first; members sorted)
    w/wu/<member>                   [unit]: the units whose meetings the member attended (sorted)
    w/wl/<unit>\\0<member>           {n, docs, unit}: members at the threshold, under the unit and above
    w/wf/<finding record id>        {unit, at, leaf, due, doc, severity, withdrawn, followed: doc id | nil,
                                    followed_at?}
    w/wo/<unit>\\0<t8 due><be8 leaf>  <finding record id>: findings waiting for a follow-up
"""

from __future__ import annotations

import bisect
from collections import deque

from ledger.genesis import Genesis
from ledger.orgpaths import ancestors
from ledger.timefmt import DAY_MS, month_of, month_start, next_month

from .keys import be8, key_time, name_key, pack, time_key, unbe8, unpack
from .projection import Facts, Reader, Record, Writer, decode
from .records import concerned_unit, is_confidential, record_date
from .timeline import member_entries
from .units import children_of, unit_record

__all__ = ["RULES", "WarningsView", "warnings_for", "KINDS", "SENSITIVE_KINDS", "TRAILING_KINDS"]

RULES: dict[str, dict] = {
    "overdue_meeting": {},                               # views/stats.py OVERDUE_AFTER_MS
    "low_attendance": {"below": 0.5, "months": 3},
    "absent_without_reason": {"meetings": 3},            # the chain's (stored)
    "task_past_due": {},
    "directive_not_acknowledged": {},
    "finding_without_follow_up": {"days": 30},           # the chain's (stored)
    "near_duplicate_minutes": {},                        # threshold: node config views.similarity_threshold
    "repeated_opinions": {"meetings": 3},
}
KINDS = tuple(RULES)
SENSITIVE_KINDS = frozenset({"absent_without_reason", "finding_without_follow_up"})
TRAILING_KINDS = frozenset({"near_duplicate_minutes", "repeated_opinions"})  # from views/similarity.py
LISTED = 200  # warnings of one kind listed in an answer (all are counted)

P_ABSENCE = b"w/wa/"
P_ABSENCE_UNITS = b"w/wu/"
P_ABSENT_LISTED = b"w/wl/"
P_FINDING = b"w/wf/"
P_WAITING = b"w/wo/"

_K = RULES["absent_without_reason"]["meetings"]
_FOLLOW_UP_MS = RULES["finding_without_follow_up"]["days"] * DAY_MS


def _order(entry: list) -> tuple[int, int]:
    return entry[0], entry[1]


def _streak(state: dict | None) -> int:
    """How many of the member's latest attendances (newest first) are absences without a reason."""
    return _run(state["latest"]) if state else 0


def _run(latest: list | None) -> int:
    """How many of `latest` (oldest first), from the newest back, are absences without a reason."""
    n = 0
    for entry in reversed(latest or ()):
        if not entry[2]:
            break
        n += 1
    return n


def _merged(w: Writer, member: str, units, unit: str | None, mine: list | None) -> dict | None:
    """The member's K latest attendances over every unit whose meetings they attended (`units`;
    `mine`: their list at `unit`, if given) and the unit of the latest, or None if none."""
    if unit is not None and (not units or (len(units) == 1 and units[0] == unit)):  # members at their own unit
        return None if mine is None else {"latest": mine, "unit": unit}
    tagged = []
    for u in units:
        if u == unit:
            entries = mine or ()
        else:
            packed = (w.read(P_ABSENCE + u.encode()) or {}).get(member)
            entries = () if packed is None else unpack(packed)
        for entry in entries:
            tagged.append((entry, u))
    if not tagged:
        return None
    tagged.sort(key=_tagged_order)  # (date, leaf) is one attendance: minutes list a member once
    latest = tagged[-_K:]
    return {"latest": [entry for entry, _ in latest], "unit": latest[-1][1]}


def _tagged_order(item: tuple[list, str]) -> tuple[int, int]:
    return item[0][0], item[0][1]


def _sorted_members(value: dict) -> dict:
    return dict(sorted(value.items()))


def _unexcused(entry: dict) -> bool:
    return entry.get("present") is False and not (isinstance(entry.get("reason"), str) and entry["reason"].strip())


class WarningsView:
    name = "warnings"
    version = 4  # 2: absences found again from the whole timeline on a correction; 3, 4: kept per unit

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        pass

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type == "minutes" and not is_confidential(record):
            self._attendance(w, record, sign)
        if record.type == "inspection_finding" and not is_confidential(record):
            self._finding(w, record, facts, sign)
        if sign > 0 and record.record_id == record.doc_id:
            refs = w.envelope(record.leaf).doc.refs
            for ref in refs:
                self._follow_up(w, ref, record)

    # -- absences --

    def _attendance(self, w: Writer, record: Record, sign: int) -> None:
        members = [a for a in record.body.get("attendees") or ()
                   if isinstance(a, dict) and isinstance(a.get("member"), str)]
        if sign < 0:
            for member in sorted({a["member"] for a in members}):
                self._recount(w, member, record.doc_id)
            return
        unit = record.org
        date, leaf, doc = record_date(record), record.leaf, bytes.fromhex(record.doc_id)
        here = w.working(P_ABSENCE + unit.encode(), dict, _sorted_members)
        for a in members:
            member = a["member"]
            packed = here.get(member)
            mine = None if packed is None else unpack(packed)
            if mine is not None and len(mine) == _K and [date, leaf] < mine[0][:2]:
                continue  # older than the member's K latest at this unit: their K latest cannot change
            units = w.read(P_ABSENCE_UNITS + member.encode()) or ()
            after = units
            if mine is None and unit not in units:  # their first meeting of this unit
                after = sorted([*units, unit])
                w.put_obj(P_ABSENCE_UNITS + member.encode(), after)
            entry = [date, leaf, _unexcused(a), doc]
            if mine is None or entry[:2] > mine[-1][:2]:
                latest = [*(mine or ()), entry][-_K:]  # their newest here (minutes mostly come in date order)
            else:
                latest = list(mine)
                bisect.insort(latest, entry, key=_order)
                latest = latest[-_K:]
            here[member] = pack(latest)
            if len(after) > 1:
                self._list(w, member, _merged(w, member, units, unit, mine), _merged(w, member, after, unit, latest))
            elif _run(mine) >= _K or _run(latest) >= _K:  # their own unit only: their list here is their K latest
                self._list(w, member, None if mine is None else {"latest": mine, "unit": unit},
                           {"latest": latest, "unit": unit})

    def _recount(self, w: Writer, member: str, leaving: str) -> None:
        """The member's attendances found again from their whole timeline, without the entries of
        doc `leaving` (a correction takes them back: the K latest at each unit are then found
        again)."""
        old_units = w.read(P_ABSENCE_UNITS + member.encode()) or ()
        old = _merged(w, member, old_units, None, None)
        found: dict[str, deque[list]] = {}
        leaving_raw = bytes.fromhex(leaving)
        for suffix, entry in member_entries(w, member):
            if entry.get("kind") != "attendance" or entry.get("doc") == leaving_raw:
                continue
            found.setdefault(entry.get("org"), deque(maxlen=_K)).append(
                [key_time(suffix[:8]), unbe8(suffix[8:16]), _unexcused(entry), entry["doc"]])
        for unit in sorted(set(old_units) | set(found)):
            here = w.working(P_ABSENCE + unit.encode(), dict, _sorted_members)
            if unit in found:
                here[member] = pack(list(found[unit]))
            else:
                here.pop(member, None)
        units = sorted(found)
        if units != list(old_units):
            if units:
                w.put_obj(P_ABSENCE_UNITS + member.encode(), units)
            else:
                w.delete(P_ABSENCE_UNITS + member.encode())
        self._list(w, member, old, _merged(w, member, units, None, None))

    @staticmethod
    def _list(w: Writer, member: str, old: dict | None, new: dict | None) -> None:
        """List the member under their unit and above while their K latest are all unexcused
        absences (and move or take the listing when that changes)."""
        was, now = _streak(old) >= _K, _streak(new) >= _K
        if was and (not now or old["unit"] != new["unit"]):
            for above in ancestors(old["unit"]):
                w.delete(name_key(P_ABSENT_LISTED, above) + member.encode())
        if now and (not was or old["unit"] != new["unit"] or old["latest"] != new["latest"]):
            listed = pack({"n": _K, "docs": [e[3] for e in new["latest"]], "unit": new["unit"]})
            for above in ancestors(new["unit"]):
                w.put(name_key(P_ABSENT_LISTED, above) + member.encode(), listed)

    # -- findings --

    @staticmethod
    def _finding(w: Writer, record: Record, facts: Facts, sign: int) -> None:
        rid = bytes.fromhex(record.record_id)
        key = P_FINDING + rid
        state = w.get_obj(key)
        if sign < 0:
            if state is not None and state.get("followed") is None:
                for above in ancestors(state["unit"]):
                    w.delete(name_key(P_WAITING, above) + time_key(state["due"]) + be8(record.leaf))
            if state is not None:
                w.put_obj(key, dict(state, withdrawn=True))
            return
        if state is None:
            state = {"unit": concerned_unit(w, record, facts), "at": record.block_time, "leaf": record.leaf,
                     "due": record.block_time + _FOLLOW_UP_MS, "followed": None}
        state = dict(state, doc=bytes.fromhex(record.doc_id), severity=record.body.get("severity"), withdrawn=False)
        w.put_obj(key, state)
        if state["followed"] is None:
            for above in ancestors(state["unit"]):
                w.put(name_key(P_WAITING, above) + time_key(state["due"]) + be8(record.leaf), rid)

    @staticmethod
    def _follow_up(w: Writer, ref: str, record: Record) -> None:
        try:
            rid = bytes.fromhex(ref)
        except ValueError:
            return
        key = P_FINDING + rid
        state = w.get_obj(key)
        if state is None or state["followed"] is not None:
            return
        if not state.get("withdrawn"):
            for above in ancestors(state["unit"]):
                w.delete(name_key(P_WAITING, above) + time_key(state["due"]) + be8(state["leaf"]))
        w.put_obj(key, dict(state, followed=bytes.fromhex(record.doc_id), followed_at=record.block_time))


# -- the question -------------------------------------------------------------------------------


def _subtree(r, path: str) -> list[str]:
    out, stack = [], [path]
    while stack:
        unit = stack.pop()
        out.append(unit)
        stack.extend(reversed(list(children_of(r, unit))))
    return out


def _low_attendance(r: Reader, path: str, as_of: int) -> list[dict]:
    from .stats import P_OWN

    rule = RULES["low_attendance"]
    months, month = [], month_of(as_of, r.zone)
    index = int(month[:4]) * 12 + int(month[5:]) - 1
    for k in range(rule["months"], 0, -1):
        i = index - k
        months.append(f"{i // 12:04d}-{i % 12 + 1:02d}")
    out = []
    for unit in _subtree(r, path):
        record = unit_record(r, unit) or {}
        if record.get("closed") is not None:
            continue
        rates = []
        for m in months:
            counts = r.get_obj(name_key(P_OWN, unit) + m.encode()) or {}
            roll, present = counts.get("a.roll", 0), counts.get("a.roll_present", 0)
            if not counts.get("m.held") or not roll or present / roll >= rule["below"]:
                break
            rates.append({"month": m, "present": present, "members": roll})
        if len(rates) == len(months):
            out.append({"kind": "low_attendance", "unit": unit, "detail": {"below": rule["below"], "months": rates},
                        "evidence": _minutes_of(r, unit, months)})
    return out


def _minutes_of(r, unit: str, months: list[str]) -> list[str]:
    from .lists import P_TYPE

    prefix = name_key(P_TYPE, unit, "minutes")
    start = month_start(months[0], r.zone)
    end = month_start(next_month(months[-1]), r.zone)
    out = []
    for key, value in r.scan(prefix, start=prefix + time_key(start)):
        if key_time(key[len(prefix):len(prefix) + 8]) >= end or len(out) >= 50:
            break
        out.append(decode(value)["d"].hex())
    return out


def warnings_for(r: Reader, path: str, *, now: int, until: int | None = None, kinds=None,
                 sensitive: bool = True, threshold: float | None = None, since: int | None = None) -> dict:
    """``{unit, as_of, counts: {kind: n}, warnings: [...], as_of_height: {kind: height}}`` for `path`'s subtree (module docstring);
    `kinds` limits the kinds asked; without `sensitive` the sensitive kinds are left out."""
    from .directives import directives_to_answer
    from .similarity import near_duplicates, repeated_opinions
    from .stats import unit_stats
    from .tasks import tasks_due

    from ledger.errors import NotFound

    if unit_record(r, path) is None:
        raise NotFound(f"org unit {path!r}")
    as_of = now if until is None else min(until, now)
    wanted = [k for k in KINDS if (kinds is None or k in kinds) and (sensitive or k not in SENSITIVE_KINDS)]
    found: dict[str, list[dict]] = {}
    for kind in wanted:
        items: list[dict] = []
        if kind == "overdue_meeting":
            stats = unit_stats(r, path, since=as_of, until=as_of, now=now)
            for group in ("cells", "committees"):
                for u in stats["overdue_units"][group]:
                    items.append({"kind": kind, "unit": u["path"],
                                  "detail": {"last_regular_meeting": u["last_regular_meeting"], "unit_kind": group},
                                  "evidence": []})
        elif kind == "low_attendance":
            items = _low_attendance(r, path, as_of)
        elif kind == "absent_without_reason":
            prefix = name_key(P_ABSENT_LISTED, path)
            for key, value in r.scan(prefix):
                v = decode(value)
                items.append({"kind": kind, "unit": v["unit"], "member": key[len(prefix):].decode(),
                              "detail": {"meetings": v["n"]}, "evidence": [d.hex() for d in v["docs"]]})
        elif kind == "task_past_due":
            for t in tasks_due(r, path, until=as_of - 1, limit=LISTED, as_of=as_of):
                items.append({"kind": kind, "unit": t["unit"], "member": t["owner"],
                              "detail": {"resolution": t["resolution"], "number": t["number"], "task": t["task"],
                                         "due": t["due"], "status": t["status"], "description": t["description"]},
                              "evidence": [t["doc_id"]] + ([t["last_report"]] if t["last_report"] else [])})
        elif kind == "directive_not_acknowledged":
            for d in directives_to_answer(r, path, as_of=as_of):
                if d["acknowledged"]["overdue"]:
                    items.append({"kind": kind, "unit": path,
                                  "detail": {"directive": d["directive"], "number": d["number"], "issuer": d["issuer"],
                                             "ack_due": d["ack_due"], "addressed": d["addressed"],
                                             "missing": d["acknowledged"]["missing"]},
                                  "evidence": [d["doc_id"]]})
        elif kind == "finding_without_follow_up":
            prefix = name_key(P_WAITING, path)
            for key, rid in r.scan(prefix):
                if key_time(key[len(prefix):len(prefix) + 8]) >= as_of:
                    break
                state = r.get_obj(P_FINDING + rid) or {}
                items.append({"kind": kind, "unit": state.get("unit"),
                              "detail": {"finding": rid.hex(), "recorded_at": state.get("at"),
                                         "follow_up_due": state.get("due"), "severity": state.get("severity")},
                              "evidence": [state["doc"].hex()] if "doc" in state else []})
        elif kind == "near_duplicate_minutes":
            args = {} if threshold is None else {"threshold": threshold}
            dup = near_duplicates(r, path, since=since, until=as_of, kind="minutes", limit=LISTED, **args)
            for g in dup["groups"]:
                items.append({"kind": kind, "unit": path,
                              "detail": {"size": g["size"], "units": g["units"], "same_unit": g["same_unit"],
                                         "similarity": g["similarity"],
                                         "members": [{"unit": m["unit"], "date": m["date"]} for m in g["members"]]},
                              "evidence": [m["doc_id"] for m in g["members"]]})
        elif kind == "repeated_opinions":
            rep = repeated_opinions(r, path, min_meetings=RULES[kind]["meetings"], since=since, until=as_of)
            for wording in rep["wordings"]:
                items.append({"kind": kind, "unit": path,
                              "detail": {"text": wording["text"], "meetings": wording["meetings"],
                                         "opinions": wording["opinions"], "within_one_meeting": False},
                              "evidence": [wording["first_doc"]] if wording["first_doc"] else []})
            for meeting in rep["meetings_repeating"]:
                items.append({"kind": kind, "unit": path,
                              "detail": {"repeated_opinions": meeting["repeated_opinions"], "date": meeting["date"],
                                         "within_one_meeting": True},
                              "evidence": [meeting["doc_id"]]})
        found[kind] = items
    return {"unit": path, "as_of": as_of, "rules": {k: RULES[k] for k in wanted},
            "counts": {k: len(v) for k, v in found.items()},
            "warnings": [w for k in wanted for w in found[k][:LISTED]], "height": r.height,
            "as_of_height": {k: r.trail_height if k in TRAILING_KINDS else r.height for k in wanted}}
