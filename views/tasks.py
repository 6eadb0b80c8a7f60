"""Resolution tasks followed up: each task with its progress reports; per unit open, done on time,
done late and overdue tasks, rolled up the hierarchy.

Definitions (the only place they are written)
---------------------------------------------
A **task** is an item of a resolution's ``tasks`` in the version in force
(an amendment may change its owner, due date or text and add tasks; a
withdrawn resolution leaves with its tasks; confidential resolutions have
none on the ledger). It counts in the resolution's unit (``doc.org``), in
the calendar month of its ``due`` date (chain's zone). Its **status** is
that of its latest ``task_report`` (``in_progress``, ``blocked``, ``done``),
``not_started`` before the first. Times of reports are block times.

- **done on time**: its ``done`` report's block time is at or before ``due``;
  **done late** otherwise;
- **open**: not done and ``due`` at or after ``as_of`` (min(until, now));
  **overdue**: not done and ``due`` before ``as_of``; **blocked**: open or
  overdue tasks whose status is ``blocked`` (counted within those two).

Storage and cost
----------------
A task's contribution (a function of its version's due date and its
state) is added when a version applies or a report changes its state, and
taken back first: counters per (unit, due month) over the unit's subtree
(``w/tc/``, the unit and each ancestor), and the tasks not done by due date
under each ancestor (``w/tx/``). A unit's figures read its months' counters
and, for the month holding ``as_of``, the tasks not done due in that month
before ``as_of``; "tasks due this week" is one range of ``w/tx/``. A
report writes only what it changes (the counters' difference, the index
keys when the status moves), and a new resolution's tasks start fresh
without reading their states. Keys
(``<R>`` a resolution's record id, 32 B; ``<i>`` a task index, be2)::

    w/tv/<R>                        {unit, number, title, doc, leaf, tasks: [[owner, due, description]]}
    w/ts/<R><i>                     a task's state {status, reports, last, at, done_at} (kept across versions)
    w/tr/<R><i><be8 leaf>           a report {status, text, at, doc}
    w/tc/<unit>\\0<YYYY-MM>          {tasks, done_on_time, done_late, not_done, blocked} over the subtree
    w/tx/<unit>\\0<t8 due><R><i>   b"": tasks not done, by due date, over the subtree (a task's state
                                    is read from w/ts/)
    w/tu/<unit>\\0<t8 due><R><i>   b"": the unit's own tasks, by due date
"""

from __future__ import annotations

import struct

from ledger.errors import NotFound
from ledger.genesis import Genesis
from ledger.orgpaths import ancestors
from ledger.timefmt import month_of, month_start

from .keys import be8, clamp, doc_bytes, key_time, name_key, time_key
from .paging import page
from .projection import Facts, Reader, Record, Writer, decode
from .units import children_of, unit_record

__all__ = ["TasksView", "task_figures", "unit_tasks", "resolution_tasks", "tasks_due", "task_state"]

P_VERSION = b"w/tv/"
P_STATE = b"w/ts/"
P_REPORTS = b"w/tr/"
P_COUNTS = b"w/tc/"
P_NOT_DONE = b"w/tx/"
P_UNIT = b"w/tu/"
_be2 = struct.Struct(">H")
_WIDTH = 42  # t8 due + record id 32 + i2


def _raw(doc_id: str) -> bytes:
    return bytes.fromhex(doc_id)


def _fresh() -> dict:
    return {"status": None, "reports": 0, "last": None, "at": None, "done_at": None}


_FRESH = _fresh()  # shared: read it, never change it


def task_state(task_due: int, state: dict, as_of: int) -> str:
    """done_on_time | done_late | overdue | open (module docstring)."""
    if state["status"] == "done":
        return "done_on_time" if state["done_at"] <= task_due else "done_late"
    return "overdue" if task_due < as_of else "open"


class TasksView:
    name = "tasks"
    version = 2  # 2: the not-done index keys hold no value (nothing read it)

    def bootstrap(self, w: Writer, genesis: Genesis) -> None:
        pass

    def apply(self, w: Writer, record: Record, facts: Facts, sign: int) -> None:
        if record.type == "resolution":
            self._resolution(w, record, sign)
        elif record.type == "task_report" and sign > 0:
            self._report(w, record)

    def _resolution(self, w: Writer, record: Record, sign: int) -> None:
        rid = _raw(record.record_id)
        if sign < 0:
            version = w.get_obj(P_VERSION + rid)
            if version is None:
                return
            for i, task in enumerate(version["tasks"]):
                self._contribute(w, rid, version, i, task, self._state(w, rid, i), -1)
            w.delete(P_VERSION + rid)
            return
        body = record.body
        if body.get("confidential") is True or not isinstance(body.get("tasks"), list):
            return
        tasks = [[t.get("owner"), clamp(t.get("due"), 0), t.get("description")] for t in body["tasks"]
                 if isinstance(t, dict)]
        version = {"unit": record.org, "number": body.get("number"), "title": body.get("title"),
                   "doc": _raw(record.doc_id), "leaf": record.leaf, "tasks": tasks}
        w.put_obj(P_VERSION + rid, version)
        original = record.record_id == record.doc_id  # no report can name it yet: every task is fresh
        for i, task in enumerate(tasks):
            self._contribute(w, rid, version, i, task, _FRESH if original else self._state(w, rid, i), +1)

    def _report(self, w: Writer, record: Record) -> None:
        body = record.body
        rid, i, status = doc_bytes(body.get("resolution")), body.get("task"), body.get("status")
        if rid is None or type(i) is not int or status not in ("in_progress", "done", "blocked"):
            return
        version = w.read(P_VERSION + rid)  # shared: read only (a resolution answered again and again)
        if version is None or not 0 <= i < len(version["tasks"]):
            return
        before = self._state(w, rid, i)
        if before["status"] == "done":
            return  # done is final (the registry refuses more)
        after = dict(before, status=status, reports=before["reports"] + 1, last=_raw(record.doc_id),
                     at=record.block_time, done_at=record.block_time if status == "done" else None)
        self._move(w, rid, version, i, before, after)
        w.put_obj(P_STATE + rid + _be2.pack(i), after)
        w.put_obj(P_REPORTS + rid + _be2.pack(i) + be8(record.leaf),
                  {"status": status, "text": body.get("text"), "at": record.block_time, "doc": _raw(record.doc_id)})

    @staticmethod
    def _state(w, rid: bytes, i: int) -> dict:
        return w.read(P_STATE + rid + _be2.pack(i)) or _fresh()  # shared: a report builds a new state

    @staticmethod
    def _contribute(w: Writer, rid: bytes, version: dict, i: int, task: list, state: dict, sign: int) -> None:
        _, due, _ = task
        unit = version["unit"]
        suffix = time_key(due) + rid + _be2.pack(i)
        month = month_of(due, w.zone).encode()
        own = name_key(P_UNIT, unit) + suffix
        if sign > 0:
            w.put(own, b"")
        else:
            w.delete(own)
        deltas = _deltas(due, state, sign)
        done = state["status"] == "done"
        for above in ancestors(unit):
            w.count(name_key(P_COUNTS, above) + month, deltas)
            if not done:
                key = name_key(P_NOT_DONE, above) + suffix
                if sign > 0:
                    w.put(key, b"")
                else:
                    w.delete(key)

    @staticmethod
    def _move(w: Writer, rid: bytes, version: dict, i: int, before: dict, after: dict) -> None:
        """A report took the task from state `before` to `after`: exactly what taking back the
        one's contribution and adding the other's would write, less the writes that cancel (the
        unit's own index key stays; a task not done keeps its index keys, which are taken only
        when it is done; the counters get the difference, once per ancestor)."""
        _, due, _ = version["tasks"][i]
        unit = version["unit"]
        added, taken = _deltas(due, after, +1), _deltas(due, before, -1)
        for name, delta in taken.items():
            added[name] = added.get(name, 0) + delta
        deltas = {name: delta for name, delta in added.items() if delta}
        done = after["status"] == "done"  # (before is not done: done is final)
        suffix = time_key(due) + rid + _be2.pack(i)
        month = month_of(due, w.zone).encode()
        for above in ancestors(unit):
            if deltas:
                w.count(name_key(P_COUNTS, above) + month, deltas)
            if done:
                w.delete(name_key(P_NOT_DONE, above) + suffix)


def _deltas(due: int, state: dict, sign: int) -> dict[str, int]:
    """A task's contribution to its (unit, due month) counters in `state`, times `sign`."""
    deltas = {"tasks": sign}
    if state["status"] == "done":
        deltas["done_on_time" if state["done_at"] <= due else "done_late"] = sign
    else:
        deltas["not_done"] = sign
        if state["status"] == "blocked":
            deltas["blocked"] = sign
    return deltas


# -- querying -----------------------------------------------------------------------------------


def _counts(r: Reader, path: str, as_of: int) -> dict:
    """The task figures of `path`'s subtree at `as_of` (module docstring)."""
    current = month_of(as_of, r.zone)
    prefix = name_key(P_COUNTS, path)
    total = {"tasks": 0, "done_on_time": 0, "done_late": 0, "open": 0, "overdue": 0, "blocked": 0}
    for key, value in r.scan(prefix):
        month = key[len(prefix):].decode()
        counts = decode(value)
        for name in ("tasks", "done_on_time", "done_late", "blocked"):
            total[name] += counts.get(name, 0)
        not_done = counts.get("not_done", 0)
        if month < current:
            total["overdue"] += not_done
        elif month > current:
            total["open"] += not_done
        else:  # the month holding as_of: those due before as_of are overdue
            index = name_key(P_NOT_DONE, path)
            start = index + time_key(month_start(current, r.zone))
            late = 0
            for k, _ in r.scan(index, start=start):
                if key_time(k[len(index):len(index) + 8]) >= as_of:
                    break
                late += 1
            total["overdue"] += late
            total["open"] += not_done - late
    return total


def task_figures(r: Reader, path: str, *, as_of: int) -> dict:
    """``{unit, as_of, tasks, done_on_time, done_late, open, overdue, blocked, children}``: rolled up,
    one row per child and one for the unit's own tasks."""
    if unit_record(r, path) is None:
        raise NotFound(f"org unit {path!r}")
    header = _counts(r, path, as_of)
    rows = []
    own = dict(header)
    for child in children_of(r, path):
        counts = _counts(r, child, as_of)
        for name, value in counts.items():
            own[name] -= value
        if counts["tasks"]:
            rows.append({"path": child, "own": False, **counts})
    return {"unit": path, "as_of": as_of, **header, "children": [{"path": path, "own": True, **own}] + rows,
            "height": r.height}


def _task_item(r, rid: bytes, i: int, version: dict, as_of: int) -> dict:
    owner, due, description = version["tasks"][i]
    state = r.get_obj(P_STATE + rid + _be2.pack(i)) or _fresh()
    return {"resolution": rid.hex(), "doc_id": version["doc"].hex(), "unit": version["unit"],
            "number": version["number"], "title": version["title"], "task": i, "owner": owner, "due": due,
            "description": description, "status": state["status"] or "not_started", "reports": state["reports"],
            "last_report": None if state["last"] is None else state["last"].hex(), "reported_at": state["at"],
            "done_at": state["done_at"], "state": task_state(due, state, as_of)}


def _at(r, suffix: bytes, as_of: int, versions: dict) -> dict | None:
    """The task an index suffix (t8 due, record id, index) names, as served; None if gone."""
    rid, i = suffix[8:40], _be2.unpack(suffix[40:42])[0]
    if rid not in versions:
        versions[rid] = r.get_obj(P_VERSION + rid)
    version = versions[rid]
    if version is None or i >= len(version["tasks"]):
        return None
    return _task_item(r, rid, i, version, as_of)


def unit_tasks(r: Reader, path: str, *, as_of: int, cursor: str | None = None, limit: int = 100,
               state: str | None = None) -> dict:
    """``{unit, state, items, next_cursor}``: the unit's own tasks by due date (only those in
    `state`: open, overdue, done_on_time, done_late)."""
    if unit_record(r, path) is None:
        raise NotFound(f"org unit {path!r}")
    versions: dict[bytes, dict | None] = {}

    def keep(suffix: bytes, _value) -> bool:
        got = _at(r, suffix, as_of, versions)
        return got is not None and (state is None or got["state"] == state)

    result = page(r, name_key(P_UNIT, path), width=_WIDTH, cursor=cursor, limit=limit, keep=keep)
    return {"unit": path, "state": state, "items": [_at(r, s, as_of, versions) for s, _ in result.items],
            "next_cursor": result.next_cursor}


def resolution_tasks(r: Reader, resolution_id: str, *, as_of: int) -> dict:
    """A resolution's tasks in force, each with every progress report."""
    rid = doc_bytes(resolution_id)
    version = r.get_obj(P_VERSION + rid) if rid is not None else None
    if version is None:
        raise NotFound(f"resolution {resolution_id} with tasks in force")
    tasks = []
    for i in range(len(version["tasks"])):
        entry = _task_item(r, rid, i, version, as_of)
        prefix = P_REPORTS + rid + _be2.pack(i)
        entry["history"] = [{"doc_id": v["doc"].hex(), "status": v["status"], "text": v["text"], "at": v["at"]}
                            for v in (decode(value) for _, value in r.scan(prefix))]
        tasks.append(entry)
    return {"resolution": resolution_id, "doc_id": version["doc"].hex(), "unit": version["unit"],
            "number": version["number"], "title": version["title"], "as_of": as_of, "tasks": tasks,
            "height": r.height}


def tasks_due(r: Reader, path: str, *, until: int, since: int | None = None, limit: int = 500,
              as_of: int) -> list[dict]:
    """Tasks of `path`'s subtree not done whose due date lies in [since, until], by due date (at
    most `limit`)."""
    index = name_key(P_NOT_DONE, path)
    start = index + (b"" if since is None else time_key(since))
    out: list[dict] = []
    versions: dict[bytes, dict | None] = {}
    for key, _ in r.scan(index, start=start):
        suffix = key[len(index):]
        if key_time(suffix[:8]) > until or len(out) >= limit:
            break
        item = _at(r, suffix, as_of, versions)
        if item is not None:
            out.append(item)
    return out
