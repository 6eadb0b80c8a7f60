"""Directives: per directive, the units it addresses and how they answered, rolled up; per unit,
the directives it still has to answer.

Definitions (the only place they are written)
---------------------------------------------
A ``directive`` of unit I (its issuer) addresses the units strictly below I
that its ``addressed`` names (the whole subtree, one ``kind``, or listed
units) and that were open at the directive's **block time** T (created at or
before T, not closed by T): the registry's rule
(``ledger.registry_committee.is_addressed``), restated over the views' own
unit history. Each addressed unit answers for itself with one
``directive_ack``, progress ``directive_report``\\ s and one final report.

- **addressed**: the units the directive addresses, counted in a subtree;
- **acknowledged**: units that filed their acknowledgement; **late** when its
  block time is after ``ack_due``; **not acknowledged**: addressed minus
  acknowledged, and **overdue** when, besides, ``ack_due`` is before the
  answer's ``as_of`` (min(until, now));
- **reported**: units that filed their final report; late after
  ``report_due``; **not reported** and overdue likewise against ``report_due``;
- **delay** of an acknowledgement (of a final report): its block time minus
  the directive's block time T, rounded **up to the whole hour**; the answer
  gives the count, the median and the 90th percentile (nearest rank: the
  smallest delay d such that at least p% of the delays are <= d), in ms;
- **open directive of a unit**: one that addresses it, is in force (not
  withdrawn) and has no final report from it yet.

Times are the ledger's (block times), never a signer's ``created_at``: an
acknowledgement signed offline counts when it reaches the ledger. An
amendment of a directive (``addressed`` is kept) may move ``ack_due`` and
``report_due``: the lateness of the answers already filed is judged again
against the version in force (the only rescan here: over that directive's
answers, once per amendment). A withdrawn directive leaves every answer.

Storage and cost
----------------
An answer adds to one counter map per unit from the answering unit up to
the issuer (``w/dc/``: counts and the delay histograms); a directive writes
its own record and one index key. The units addressed in a subtree at T are
not stored per directive: they are the subtree's open units by kind now
(``w/dq/``, kept as units open and close) less the changes after T
(``w/de/``, each unit event under each ancestor), so a directive costs O(1)
whatever it addresses, and a question costs the answering subtree's rows
plus the unit events since T. Keys (``<D>`` a directive's record id, 32 B)::

    w/dv/<D>                        the version in force {org, number, title, issued_at, ack_due,
                                    report_due, at: T, leaf, doc, addressed}
    w/di/<issuer>\\0<t8 T><be8 leaf>  <D>: the issuer's directives in force
    w/dt/<D>                        be8 T - MIN_MS: the original's block time (kept)
    w/da/<D><unit>                  the unit's answers {ack, ack_at, reports, final, final_at}
    w/dc/<D><unit>\\0                counters over the unit's subtree: acked, ack_late, final,
                                    final_late, progress, a<hours>, f<hours> (delay histograms)
    w/dq/<unit>                     open units of the subtree by kind {kind: n, "*": n}
    w/de/<unit>\\0<t8><be8 leaf>     {kind: +-1, "*": +-1}: a unit of the subtree opened or closed
"""

from __future__ import annotations

from typing import Iterable

from ledger.errors import InvalidInput, NotFound
from ledger.genesis import Genesis
from ledger.orgpaths import ancestors, is_strictly_under, is_under

from ledger.timefmt import MIN_MS

from .keys import be8, doc_bytes, name_key, time_key, unbe8
from .projection import Facts, Reader, Record, Writer, decode
from .units import children_of, unit_record

__all__ = ["DirectivesView", "directive_figures", "unit_directives", "issued_directives", "percentile",
           "HOUR_MS", "delay_hours", "addressed_in", "directives_to_answer"]

HOUR_MS = 3_600_000

P_VERSION = b"w/dv/"
P_ISSUED = b"w/di/"
P_ANSWERS = b"w/da/"
P_COUNTS = b"w/dc/"
P_KINDS = b"w/dq/"
P_EVENTS = b"w/de/"
P_RECORDED = b"w/dt/"


def delay_hours(delay_ms: int) -> int:
    """A delay rounded up to the whole hour (never below 0)."""
    return max(0, -(-delay_ms // HOUR_MS))


def percentile(histogram: dict[int, int], p: int) -> int | None:
    """Nearest rank: the smallest value v with at least p% of the counts <= v (None if empty)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = -(-p * total // 100)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # unreachable


def _raw(doc_id: str) -> bytes:
    return bytes.fromhex(doc_id)


def _answering_units(unit: str, issuer: str) -> list[str]:
    """`unit` and every unit above it up to and including the issuer."""
    return [a for a in ancestors(unit) if is_under(a, issuer)]


def _late(at: int | None, due: object) -> bool:
    return at is not None and type(due) is int and at > due


class DirectivesView:
    name = "directives"
    version = 1

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        for u in genesis.units:
            for above in ancestors(u["path"]):
                w.count(P_KINDS + above.encode(), {str(u["kind"]): 1, "*": 1})

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        kind = record.type
        if kind == "org_unit":
            self._unit_event(w, record)
        elif kind == "directive":
            self._directive(w, record, sign)
        elif kind in ("directive_ack", "directive_report") and sign > 0:
            self._answer(w, record)

    # -- the unit tree by kind, and its history --

    @staticmethod
    def _unit_event(w: Writer, record: Record) -> None:
        body = record.body
        path, action = body.get("path"), body.get("action")
        if not isinstance(path, str):
            return
        unit = unit_record(w, path)  # the units view applied this document already
        if unit is None:
            return
        if action == "create" and unit["opened"] == record.block_time and unit["closed"] is None:
            delta = 1
        elif action == "close" and unit["closed"] == record.block_time:
            delta = -1
        else:
            return
        deltas = {str(unit["kind"]): delta, "*": delta}
        for above in ancestors(path):
            w.count(P_KINDS + above.encode(), deltas)
            w.put_obj(name_key(P_EVENTS, above) + time_key(record.block_time) + be8(record.leaf), deltas)

    # -- directives --

    def _directive(self, w: Writer, record: Record, sign: int) -> None:
        body, rid = record.body, _raw(record.record_id)
        issuer = record.org
        first = w.get(P_RECORDED + rid)  # the original's block time T, whichever version this is
        if first is None:
            if sign < 0:
                return
            w.put(P_RECORDED + rid, be8(record.block_time - MIN_MS))
            at = record.block_time
        else:
            at = unbe8(first) + MIN_MS
        index = name_key(P_ISSUED, issuer) + time_key(at) + be8(record.leaf)
        if sign < 0:
            old = w.get_obj(P_VERSION + rid)
            if old is None:
                return
            self._rejudge(w, record.record_id, old, -1)
            w.delete(P_VERSION + rid)
            w.delete(index)
            return
        version = {"org": issuer, "number": body.get("number"), "title": body.get("title"),
                   "issued_at": body.get("issued_at"), "ack_due": body.get("ack_due"),
                   "report_due": body.get("report_due"), "at": at, "leaf": record.leaf,
                   "doc": _raw(record.doc_id), "addressed": body.get("addressed")}
        w.put_obj(P_VERSION + rid, version)
        w.put(index, rid)
        if record.record_id != record.doc_id:
            self._rejudge(w, record.record_id, version, +1)

    @staticmethod
    def _rejudge(w: Writer, directive_id: str, version: dict, sign: int) -> None:
        """Count (sign +1) or take back (-1) the lateness of every answer under `version`'s due dates."""
        prefix = P_ANSWERS + _raw(directive_id)
        for key, _ in list(w.scan(prefix)):
            unit = key[len(prefix):].decode()
            answers = w.get_obj(key)
            deltas = {"ack_late": sign * _late(answers["ack_at"], version["ack_due"]),
                      "final_late": sign * _late(answers["final_at"], version["report_due"])}
            if any(deltas.values()):
                for above in _answering_units(unit, version["org"]):
                    w.count(P_COUNTS + _raw(directive_id) + above.encode() + b"\0", deltas)

    # -- answers --

    @staticmethod
    def _answer(w: Writer, record: Record) -> None:
        directive_id = record.body.get("directive")
        if doc_bytes(directive_id) is None:
            return
        version = w.read(P_VERSION + _raw(directive_id))  # shared: read only (answered unit after unit)
        if version is None:
            return  # withdrawn (the registry refuses answers to it) or unknown
        key = P_ANSWERS + _raw(directive_id) + record.org.encode()
        answers = w.get_obj(key) or {"ack": None, "ack_at": None, "reports": 0, "final": None, "final_at": None}
        at, delay = record.block_time, delay_hours(record.block_time - version["at"])
        if record.type == "directive_ack":
            if answers["ack"] is not None:
                return
            answers["ack"], answers["ack_at"] = _raw(record.doc_id), at
            deltas = {"acked": 1, "ack_late": int(_late(at, version["ack_due"])), f"a{delay}": 1}
        else:
            if answers["final"] is not None:
                return
            answers["reports"] += 1
            if record.body.get("final") is True:
                answers["final"], answers["final_at"] = _raw(record.doc_id), at
                deltas = {"final": 1, "final_late": int(_late(at, version["report_due"])), f"f{delay}": 1,
                          "progress": 1}
            else:
                deltas = {"progress": 1}
        w.put_obj(key, answers)
        counts = P_COUNTS + _raw(directive_id)
        for above in _answering_units(record.org, version["org"]):
            w.count(counts + above.encode() + b"\0", deltas)


# -- querying -----------------------------------------------------------------------------------


def _open_at(r, path: str, t: int) -> dict[str, int]:
    """The open units of `path`'s subtree (itself included) by kind at block time `t`."""
    counts = dict(r.get_obj(P_KINDS + path.encode()) or {})
    prefix = name_key(P_EVENTS, path)
    for _, value in r.scan(prefix, start=prefix + time_key(t) + b"\xff" * 8):
        for name, delta in decode(value).items():
            counts[name] = counts.get(name, 0) - delta
    return counts


def _was_open(unit: dict | None, t: int) -> bool:
    return unit is not None and unit["opened"] <= t and (unit["closed"] is None or unit["closed"] > t)


def addressed_in(r, version: dict, path: str) -> int:
    """How many units of `path`'s subtree the directive (its version record) addresses."""
    issuer, addressed, t = version["org"], version["addressed"] or {}, version["at"]
    scope = addressed.get("scope")
    if scope == "units":
        return sum(1 for u in dict.fromkeys(addressed.get("units") or ())
                   if is_strictly_under(u, issuer) and is_under(u, path) and _was_open(unit_record(r, u), t))
    if not (is_under(path, issuer)):
        return 0
    name = "*" if scope == "subtree" else str(addressed.get("kind"))
    n = _open_at(r, path, t).get(name, 0)
    if path == issuer:
        issuer_unit = unit_record(r, issuer) or {}
        if name == "*" or issuer_unit.get("kind") == name:
            n -= 1  # strictly below the issuer
    return max(n, 0)


def addresses(r, version: dict, unit_path: str) -> bool:
    """Whether the directive addresses `unit_path` (module docstring)."""
    issuer, addressed, t = version["org"], version["addressed"] or {}, version["at"]
    if not is_strictly_under(unit_path, issuer):
        return False
    unit = unit_record(r, unit_path)
    if not _was_open(unit, t):
        return False
    scope = addressed.get("scope")
    if scope == "subtree":
        return True
    if scope == "level":
        return unit["kind"] == addressed.get("kind")
    return unit_path in (addressed.get("units") or ())


def _figures(r, directive_id: str, version: dict, path: str, as_of: int) -> dict:
    counts = r.get_obj(P_COUNTS + _raw(directive_id) + path.encode() + b"\0") or {}
    addressed = addressed_in(r, version, path)
    acked, final = counts.get("acked", 0), counts.get("final", 0)
    ack_hist = {int(k[1:]): v for k, v in counts.items() if k[0] == "a" and k[1:].isdigit()}
    final_hist = {int(k[1:]): v for k, v in counts.items() if k[0] == "f" and k[1:].isdigit()}

    def delays(hist: dict[int, int]) -> dict:
        median, p90 = percentile(hist, 50), percentile(hist, 90)
        return {"count": sum(hist.values()), "median_ms": None if median is None else median * HOUR_MS,
                "p90_ms": None if p90 is None else p90 * HOUR_MS}

    ack_due, report_due = version["ack_due"], version["report_due"]
    return {
        "addressed": addressed,
        "acknowledged": {"total": acked, "late": counts.get("ack_late", 0),
                         "missing": max(addressed - acked, 0),
                         "overdue": max(addressed - acked, 0) if type(ack_due) is int and ack_due < as_of else 0,
                         "delay": delays(ack_hist)},
        "reported": {"total": final, "late": counts.get("final_late", 0), "missing": max(addressed - final, 0),
                     "overdue": max(addressed - final, 0) if type(report_due) is int and report_due < as_of else 0,
                     "progress_reports": counts.get("progress", 0) - final, "delay": delays(final_hist)},
    }


def _version(r, directive_id: str) -> dict:
    raw = doc_bytes(directive_id)
    version = r.get_obj(P_VERSION + raw) if raw is not None else None
    if version is None:
        raise NotFound(f"directive {directive_id} (none in force)")
    return version


def _summary(directive_id: str, version: dict) -> dict:
    return {"directive": directive_id, "doc_id": version["doc"].hex(), "issuer": version["org"],
            "number": version["number"], "title": version["title"], "issued_at": version["issued_at"],
            "ack_due": version["ack_due"], "report_due": version["report_due"], "recorded_at": version["at"],
            "addressed": version["addressed"]}


def directive_figures(r: Reader, directive_id: str, *, path: str | None = None, as_of: int) -> dict:
    """A directive's figures over `path`'s subtree (default: the issuer's), with one row per child
    of `path` and one for `path` itself when it is addressed (module docstring)."""
    version = _version(r, directive_id)
    issuer = version["org"]
    path = issuer if path is None else path
    if not is_under(path, issuer):
        raise InvalidInput("path", f"{path!r} is not in the subtree of the directive's issuer {issuer!r}")
    if unit_record(r, path) is None:
        raise NotFound(f"org unit {path!r}")
    rows = []
    if path != issuer and addresses(r, version, path):
        rows.append({"path": path, "own": True, **_own_row(r, directive_id, version, path, as_of)})
    for child in children_of(r, path):
        figures = _figures(r, directive_id, version, child, as_of)
        if figures["addressed"] or figures["acknowledged"]["total"]:
            rows.append({"path": child, "own": False, **figures})
    return {**_summary(directive_id, version), "unit": path, "as_of": as_of,
            **_figures(r, directive_id, version, path, as_of), "children": rows, "height": r.height}


def _own_row(r, directive_id: str, version: dict, path: str, as_of: int) -> dict:
    """The figures of `path` alone (one addressed unit): its own answers."""
    answers = r.get_obj(P_ANSWERS + _raw(directive_id) + path.encode()) or {}
    t = version["at"]
    ack_at, final_at = answers.get("ack_at"), answers.get("final_at")

    def one(at: int | None, due: object, reports: int = 0) -> dict:
        hist = {} if at is None else {delay_hours(at - t): 1}
        return {"total": int(at is not None), "late": int(_late(at, due)), "missing": int(at is None),
                "overdue": int(at is None and type(due) is int and due < as_of),
                "delay": {"count": len(hist), "median_ms": None if at is None else delay_hours(at - t) * HOUR_MS,
                          "p90_ms": None if at is None else delay_hours(at - t) * HOUR_MS}}

    reported = one(final_at, version["report_due"])
    reported["progress_reports"] = answers.get("reports", 0) - int(final_at is not None)
    return {"addressed": 1, "acknowledged": one(ack_at, version["ack_due"]), "reported": reported}


def _issued(r, issuer: str) -> list[tuple[str, dict]]:
    """(directive id, version) of `issuer`'s directives in force, by block time."""
    out = []
    for _, rid in r.scan(name_key(P_ISSUED, issuer)):
        version = r.get_obj(P_VERSION + rid)
        if version is not None:
            out.append((rid.hex(), version))
    return out


def issued_directives(r: Reader, path: str, *, as_of: int) -> list[dict]:
    """The directives `path` issued that are in force, each with its figures over the issuer's subtree."""
    return [{**_summary(d, v), **_figures(r, d, v, path, as_of)} for d, v in _issued(r, path)]


def unit_directives(r: Reader, path: str, *, as_of: int, include_done: bool = False) -> list[dict]:
    """The directives addressing `path` (from every unit above it) in force, with the unit's answers:
    the open ones (no final report yet), or all with `include_done`."""
    if unit_record(r, path) is None:
        raise NotFound(f"org unit {path!r}")
    out = []
    for above in ancestors(path)[1:]:
        for directive_id, version in _issued(r, above):
            if not addresses(r, version, path):
                continue
            answers = r.get_obj(P_ANSWERS + _raw(directive_id) + path.encode()) or {}
            final_at = answers.get("final_at")
            if final_at is not None and not include_done:
                continue
            ack_at = answers.get("ack_at")
            out.append({**_summary(directive_id, version), "unit": path,
                        "acknowledged_at": ack_at, "ack": None if ack_at is None else answers["ack"].hex(),
                        "ack_late": _late(ack_at, version["ack_due"]),
                        "ack_overdue": ack_at is None and type(version["ack_due"]) is int
                        and version["ack_due"] < as_of,
                        "reports": answers.get("reports", 0), "reported_at": final_at,
                        "report_late": _late(final_at, version["report_due"]),
                        "report_overdue": final_at is None and type(version["report_due"]) is int
                        and version["report_due"] < as_of})
    out.sort(key=lambda d: (d["recorded_at"], d["directive"]))
    return out


def directives_to_answer(r: Reader, path: str, *, as_of: int) -> list[dict]:
    """Directives of `path` or of units above it that units of `path`'s subtree have still to
    acknowledge or report on, each with its figures over `path`'s subtree (directives issued
    further down are their own issuers' to follow)."""
    out = []
    for above in ancestors(path):
        for directive_id, version in _issued(r, above):
            figures = _figures(r, directive_id, version, path, as_of)
            if figures["acknowledged"]["missing"] or figures["reported"]["missing"]:
                out.append({**_summary(directive_id, version), "unit": path, **figures})
    return out
