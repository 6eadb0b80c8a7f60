"""Directives, tasks and polls (views/directives.py, views/tasks.py, views/polls.py) against figures
counted straight from the raw accepted documents of a generated organisation
(tests/views/committee_world.py): a plain replay in log order, restating the definitions of the
views' docstrings without their code."""

from __future__ import annotations

from collections import defaultdict

import pytest

from ledger.errors import NotFound
from ledger.timefmt import MIN_MS
from tests.ledger.factory import DAY
from views import Views
from views.directives import directive_figures, unit_directives
from views.polls import poll_ballots, poll_close
from views.projection import K_HEIGHT
from views.tasks import resolution_tasks, task_figures, unit_tasks

from .committee_world import build_committee_world

HOUR = 3_600_000


@pytest.fixture(scope="module", params=[1, 2])
def world(request):
    return build_committee_world(request.param, blocks=40)


def _accepted(world):
    for h in range(1, world.ledger.height + 1):
        t = world.ledger.header(h).timestamp
        for d in world.ledger.accepted_documents(h):
            yield t, d.leaf_index, d.doc_id, d.envelope.doc, tuple(s.signer for s in d.envelope.sigs)


class Replay:
    """The organisation as the raw documents tell it."""

    def __init__(self, world) -> None:
        self.units = {u["path"]: {"kind": u["kind"], "opened": MIN_MS, "closed": None}
                      for u in world.org.genesis["units"]}
        self.directives: dict[str, dict] = {}   # record id -> {issuer, at, body, withdrawn}
        self.answers = defaultdict(dict)        # record id -> unit -> {ack_at, final_at, reports}
        self.resolutions: dict[str, dict] = {}  # record id -> {unit, body (current), withdrawn}
        self.task_state = defaultdict(dict)     # record id -> index -> {status, done_at, reports}
        self.ballots = defaultdict(list)        # poll id -> [(leaf, voter, choice, doc_id)]
        self.closes: dict[str, str] = {}
        for t, leaf, doc_id, doc, signers in _accepted(world):
            body = doc.body
            if doc.type == "org_unit":
                if body["action"] == "create":
                    self.units[body["path"]] = {"kind": body["kind"], "opened": t, "closed": None}
                else:
                    self.units[body["path"]]["closed"] = t
            elif doc.type == "directive":
                self.directives[doc_id] = {"issuer": doc.org, "at": t, "body": body, "withdrawn": False}
            elif doc.type in ("directive_ack", "directive_report"):
                a = self.answers[body["directive"]].setdefault(doc.org, {"ack_at": None, "final_at": None,
                                                                         "reports": 0})
                if doc.type == "directive_ack":
                    a["ack_at"] = t
                else:
                    a["reports"] += 1
                    if body["final"]:
                        a["final_at"] = t
            elif doc.type == "resolution":
                self.resolutions[doc_id] = {"unit": doc.org, "body": body, "withdrawn": False}
            elif doc.type == "task_report":
                s = self.task_state[body["resolution"]].setdefault(body["task"], {"status": None, "done_at": None,
                                                                                  "reports": 0})
                s["status"], s["reports"] = body["status"], s["reports"] + 1
                if body["status"] == "done":
                    s["done_at"] = t
            elif doc.type == "amendment":
                target = body["target"]
                for table in (self.directives, self.resolutions):
                    if target in table:
                        if body["action"] == "withdraw":
                            table[target]["withdrawn"] = True
                        else:
                            table[target]["body"] = body["body"]
            elif doc.type == "ballot":
                self.ballots[body["poll"]].append((leaf, signers[0], body["choice"], doc_id))
            elif doc.type == "poll_close":
                self.closes[body["poll"]] = doc_id

    # -- directives --

    def addressed(self, d: dict) -> set[str]:
        issuer, at, addressed = d["issuer"], d["at"], d["body"]["addressed"]
        out = set()
        for path, u in self.units.items():
            if not path.startswith(issuer + "/") or u["opened"] > at or (u["closed"] is not None and u["closed"] <= at):
                continue
            if addressed["scope"] == "subtree" or (addressed["scope"] == "level" and u["kind"] == addressed["kind"]) \
                    or (addressed["scope"] == "units" and path in addressed["units"]):
                out.add(path)
        return out

    def figures(self, directive_id: str, path: str, as_of: int) -> dict:
        d = self.directives[directive_id]
        units = {u for u in self.addressed(d) if u == path or u.startswith(path + "/")}
        answers = {u: a for u, a in self.answers[directive_id].items() if u == path or u.startswith(path + "/")}
        body = d["body"]

        def side(at_name: str, due: int) -> dict:
            times = [a[at_name] for a in answers.values() if a[at_name] is not None]
            delays = sorted(-(-(t - d["at"]) // HOUR) for t in times)

            def rank(p):
                return None if not delays else delays[-(-p * len(delays) // 100) - 1] * HOUR

            missing = len(units) - len(times)
            return {"total": len(times), "late": sum(t > due for t in times), "missing": missing,
                    "overdue": missing if due < as_of else 0,
                    "delay": {"count": len(delays), "median_ms": rank(50), "p90_ms": rank(90)}}

        reported = side("final_at", body["report_due"])
        reported["progress_reports"] = sum(a["reports"] for a in answers.values()) - reported["total"]
        return {"addressed": len(units), "acknowledged": side("ack_at", body["ack_due"]), "reported": reported}

    # -- tasks --

    def tasks(self):
        for rid, r in self.resolutions.items():
            if r["withdrawn"]:
                continue
            for i, task in enumerate(r["body"]["tasks"]):
                state = self.task_state[rid].get(i, {"status": None, "done_at": None, "reports": 0})
                yield rid, r["unit"], i, task, state

    def task_counts(self, path: str, as_of: int) -> dict:
        out = dict.fromkeys(("tasks", "done_on_time", "done_late", "open", "overdue", "blocked"), 0)
        for _, unit, _, task, state in self.tasks():
            if not (unit == path or unit.startswith(path + "/")):
                continue
            out["tasks"] += 1
            if state["status"] == "done":
                out["done_on_time" if state["done_at"] <= task["due"] else "done_late"] += 1
            else:
                out["overdue" if task["due"] < as_of else "open"] += 1
                out["blocked"] += state["status"] == "blocked"
        return out


@pytest.fixture(scope="module")
def replay(world):
    return Replay(world)


def _children(replay, path):
    return sorted(p for p in replay.units if p.rpartition("/")[0] == path and "/" in p)


def test_the_generated_world_exercises_every_case(world, replay):
    answers = [a for per in replay.answers.values() for a in per.values()]
    assert len(replay.directives) >= 10 and any(d["withdrawn"] for d in replay.directives.values())
    assert any(a["ack_at"] is not None for a in answers) and any(a["final_at"] is not None for a in answers)
    states = [s["status"] for per in replay.task_state.values() for s in per.values()]
    assert {"done", "blocked", "in_progress"} <= set(states)
    assert any(u["closed"] is not None for u in replay.units.values())
    assert replay.closes and any(len({v for _, v, _, _ in b}) < len(b) for b in replay.ballots.values())


def test_directive_figures_match_the_raw_documents(world, replay):
    as_of_values = [world.clock - 15 * DAY, world.clock]
    checked = 0
    with world.views.reader() as r:
        for directive_id, d in replay.directives.items():
            if d["withdrawn"]:
                with pytest.raises(NotFound):
                    directive_figures(r, directive_id, as_of=world.clock)
                continue
            issuer = d["issuer"]
            for path in [issuer] + _children(replay, issuer):
                for as_of in as_of_values:
                    got = directive_figures(r, directive_id, path=path, as_of=as_of)
                    want = replay.figures(directive_id, path, as_of)
                    assert {k: got[k] for k in want} == want, (directive_id, path)
                    rows = {row["path"]: row for row in got["children"]}
                    for child in _children(replay, path):
                        expected = replay.figures(directive_id, child, as_of)
                        if expected["addressed"] or expected["acknowledged"]["total"]:
                            assert {k: rows[child][k] for k in expected} == expected, (directive_id, child)
                        else:
                            assert child not in rows
                    checked += 1
    assert checked > 20


def test_each_unit_sees_the_directives_it_has_to_answer(world, replay):
    as_of = world.clock
    with world.views.reader() as r:
        for unit in replay.units:
            want = set()
            for directive_id, d in replay.directives.items():
                if d["withdrawn"] or unit not in replay.addressed(d):
                    continue
                if replay.answers[directive_id].get(unit, {}).get("final_at") is None:
                    want.add(directive_id)
            got = unit_directives(r, unit, as_of=as_of)
            assert {g["directive"] for g in got} == want, unit
            for g in got:
                answer = replay.answers[g["directive"]].get(unit, {})
                assert g["acknowledged_at"] == answer.get("ack_at")
                due = replay.directives[g["directive"]]["body"]["ack_due"]
                assert g["ack_overdue"] == (answer.get("ack_at") is None and due < as_of)


def test_task_figures_and_lists_match_the_raw_documents(world, replay):
    for as_of in (world.clock - 20 * DAY, world.clock - 3 * DAY + 5, world.clock + 30 * DAY):
        with world.views.reader() as r:
            for path in replay.units:
                got = task_figures(r, path, as_of=as_of)
                assert {k: got[k] for k in ("tasks", "done_on_time", "done_late", "open", "overdue", "blocked")} \
                    == replay.task_counts(path, as_of), (path, as_of)
                rows = {row["path"]: row for row in got["children"] if not row["own"]}
                for child in _children(replay, path):
                    want = replay.task_counts(child, as_of)
                    if want["tasks"]:
                        assert {k: rows[child][k] for k in want} == want
                listed = unit_tasks(r, path, as_of=as_of, limit=500)["items"]
                mine = sorted((task["due"], rid, i) for rid, unit, i, task, _ in replay.tasks() if unit == path)
                assert [(t["due"], t["resolution"], t["task"]) for t in listed] == mine


def test_a_resolutions_tasks_carry_every_report(world, replay):
    with world.views.reader() as r:
        for rid, res in replay.resolutions.items():
            if res["withdrawn"]:
                with pytest.raises(NotFound):
                    resolution_tasks(r, rid, as_of=world.clock)
                continue
            got = resolution_tasks(r, rid, as_of=world.clock)
            assert len(got["tasks"]) == len(res["body"]["tasks"])
            for i, task in enumerate(got["tasks"]):
                state = replay.task_state[rid].get(i, {"status": None, "reports": 0})
                assert task["status"] == (state["status"] or "not_started")
                assert len(task["history"]) == task["reports"] == state["reports"]


def test_every_ballot_is_listed_in_log_order_with_the_close(world, replay):
    with world.views.reader() as r:
        for poll in world.polls:
            got = poll_ballots(r, poll.doc_id, limit=500)["items"]
            want = [(leaf, voter, choice, doc_id) for leaf, voter, choice, doc_id in replay.ballots[poll.doc_id]]
            assert [(b["leaf_index"], b["voter"], b["choice"], b["doc_id"]) for b in got] == want
            close = poll_close(r, poll.doc_id)
            assert (close or {}).get("doc_id") == replay.closes.get(poll.doc_id)


def test_rebuilt_committee_views_are_byte_identical(world):
    from tests.views.test_rebuild import view_keys

    before = view_keys(world.ledger.store)
    views = Views()
    views.attach(world.ledger)
    views.rebuild()
    after = view_keys(world.ledger.store)
    before.pop(K_HEIGHT), after.pop(K_HEIGHT)
    assert before == after
