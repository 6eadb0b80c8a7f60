"""Early warnings and reminders (views/warnings.py, views/reminders.py) against figures counted
straight from the raw accepted documents of generated organisations: tests/views/world.py
(minutes and their attendance, findings, amendments and withdrawals, with follow-ups added
here) and tests/views/committee_world.py (directives, tasks). A plain replay restating the
rules of the views' docstrings, on top of tests/views/expected.py (stats' own replay), without
the views' code."""

from __future__ import annotations

import pytest

from ledger.orgpaths import ancestors
from ledger.timefmt import month_of, month_start
from tests.ledger.factory import CELLS, DAY, T0
from views.reminders import WEEK_MS, due_items
from views.warnings import RULES, warnings_for

from .committee_world import build_committee_world
from .expected import Expected
from .test_committee import Replay
from .world import ROOT_SECRETARY, build_world

K = RULES["absent_without_reason"]["meetings"]
FOLLOW_UP = RULES["finding_without_follow_up"]["days"] * DAY


@pytest.fixture(scope="module", params=[3, 4])
def world(request):
    """build_world's organisation, then a block in which every other finding is followed up (a
    document that refs it), and a last block of minutes so that the clock moves on."""
    w = build_world(request.param, blocks=14, per_block=30)
    findings = [a for a in w.accepted() if a.doc.type == "inspection_finding"]
    w.apply([w.org.envelope("resolution", "central", {
        "number": f"TD-{i}/NQ", "title": "Khắc phục sau kiểm tra", "text": "…", "adopted_at": w.clock,
        "tally": {"for": 3, "against": 0, "abstain": 0, "eligible": 5}, "tasks": []}, [ROOT_SECRETARY],
        refs=[f.doc_id]) for i, f in enumerate(findings[::2])])
    w.apply([w.minutes() for _ in range(10)])
    cell = CELLS[0]
    first, second = w.members_of(cell)[:2]
    made = []
    for k in range(K):  # the newest meetings of the cell: both absent without a reason
        body = {"meeting_id": f"{cell}/absent/{k}", "kind": "regular", "held_at": T0 + (k + 1) * DAY,
                "mode": "in_person", "chair": ROOT_SECRETARY, "secretary": ROOT_SECRETARY,
                "attendees": [{"member": first, "present": False}, {"member": second, "present": False}],
                "agenda": [], "opinions": [], "votes": [], "decisions": [], "text": f"Biên bản vắng {k}"}
        made.append(w.org.envelope("minutes", cell, body, [ROOT_SECRETARY], created_at=T0 + k))
    w.apply(made)
    excused = dict(made[-1].doc.body, attendees=[{"member": first, "present": False},
                                                 {"member": second, "present": False, "reason": "ốm"}])
    w.apply([w.org.envelope("amendment", cell, {"target": made[-1].doc_id, "action": "amend",
                                                "reason": "bổ sung lý do vắng", "body": excused},
                            [ROOT_SECRETARY], refs=[made[-1].doc_id])])
    w.warned, w.excused = first, second
    return w


@pytest.fixture(scope="module")
def expected(world):
    return Expected(world.org.genesis, world.accepted())


def _unexcused(entry: dict) -> bool:
    return entry["present"] is False and not (isinstance(entry.get("reason"), str) and entry["reason"].strip())


def _absent(expected: Expected, path: str) -> dict[str, tuple[str, list[str]]]:
    """member -> (unit, evidence): members whose K latest attendances (by meeting date, then log
    order) are all absences without a reason, listed under the unit of the latest and above."""
    members = {m for entries in expected.entries.values() for m, _ in entries}
    out = {}
    for member in members:
        attendance = [e for e in expected.timeline(member) if e["kind"] == "attendance"]
        latest = attendance[-K:]
        if len(latest) == K and all(_unexcused(e) for e in latest):
            unit = latest[-1]["org"]
            if path in ancestors(unit):
                out[member] = (unit, [e["doc_id"] for e in latest])
    return out


def _waiting(world, expected: Expected, path: str, as_of: int) -> set[str]:
    """Findings (in force) about `path`'s subtree with no later accepted document that refs them,
    recorded more than the rule's days before `as_of`."""
    accepted = world.accepted()
    out = set()
    for a in accepted:
        if a.doc.type != "inspection_finding" or a.doc_id not in expected.listed:
            continue
        unit = expected.versions[a.doc_id][2]
        followed = any(a.doc_id in b.doc.refs and b.leaf > a.leaf and b.doc.type != "amendment" for b in accepted)
        if not followed and a.block_time + FOLLOW_UP < as_of and path in ancestors(unit):
            out.add(a.doc_id)
    return out


def _paths(world) -> list[str]:
    return ["central", "central/p1", "central/p1/k1", "central/p1/k1/s1", world.cells[-1]]


def test_the_world_warns_of_absences_and_findings(world, expected):
    as_of = world.clock + FOLLOW_UP
    absent = _absent(expected, "central")
    assert world.warned in absent and world.excused not in absent  # the amendment gave a reason
    assert _waiting(world, expected, "central", as_of)
    findings = {a.doc_id for a in world.accepted() if a.doc.type == "inspection_finding"}
    assert len(_waiting(world, expected, "central", as_of)) < len(findings & set(expected.listed))


def test_absences_without_reason_match_the_attendance_in_force(world, expected):
    with world.views.reader() as r:
        for path in _paths(world):
            found = warnings_for(r, path, now=world.clock, kinds=("absent_without_reason",))
            got = {w["member"]: (w["unit"], w["evidence"]) for w in found["warnings"]}
            assert got == _absent(expected, path), path
            assert all(w["detail"] == {"meetings": K} for w in found["warnings"])


@pytest.mark.parametrize("days_on", [0, 20, 45])
def test_findings_without_follow_up_match_the_refs(world, expected, days_on):
    as_of = world.clock + days_on * DAY
    with world.views.reader() as r:
        for path in _paths(world):
            found = warnings_for(r, path, now=as_of, kinds=("finding_without_follow_up",))
            got = {w["detail"]["finding"] for w in found["warnings"]}
            assert got == _waiting(world, expected, path, as_of), (path, days_on)
            for w in found["warnings"]:
                assert w["evidence"] == [expected.listed[w["detail"]["finding"]][4]]  # the version in force


def test_low_attendance_matches_the_monthly_rolls(world, expected):
    rule = RULES["low_attendance"]
    as_of = world.clock
    with world.views.reader() as r:
        zone = r.zone
        month = month_of(as_of, zone)
        index = int(month[:4]) * 12 + int(month[5:]) - 1
        months = [f"{(index - k) // 12:04d}-{(index - k) % 12 + 1:02d}" for k in range(rule["months"], 0, -1)]
        for path in ("central", "central/p1"):
            found = warnings_for(r, path, now=as_of, kinds=("low_attendance",))
            want = set()
            for unit, u in expected.units.items():
                if not expected.in_subtree(unit, path) or u["closed"] is not None:
                    continue
                low = []
                for m in months:
                    c = expected.counts(unit, [m], own=True)
                    low.append(c["held"] > 0 and c["roll"] > 0 and c["roll_present"] / c["roll"] < rule["below"])
                if all(low):
                    want.add(unit)
            assert {w["unit"] for w in found["warnings"]} == want, path


@pytest.fixture(scope="module", params=[5, 6])
def committee(request):
    w = build_committee_world(request.param, blocks=40)
    return w, Replay(w)


def _as_of_points(world) -> list[int]:
    return [world.clock - 15 * DAY, world.clock, world.clock + 10 * DAY]


def test_tasks_past_due_and_directives_not_acknowledged_match_the_replay(committee):
    world, replay = committee
    for as_of in _as_of_points(world):
        with world.views.reader() as r:
            for path in ("central", "central/p1", "central/p1/k1", "central/p1/k1/s1"):
                found = warnings_for(r, path, now=as_of, kinds=("task_past_due", "directive_not_acknowledged"))
                tasks = {(w["detail"]["resolution"], w["detail"]["task"]) for w in found["warnings"]
                         if w["kind"] == "task_past_due"}
                want = {(rid, i) for rid, unit, i, task, state in replay.tasks()
                        if state["status"] != "done" and task["due"] < as_of and replay_in(unit, path)}
                assert tasks == want, (path, as_of)
                directives = {w["detail"]["directive"]: w["detail"]["missing"] for w in found["warnings"]
                              if w["kind"] == "directive_not_acknowledged"}
                assert directives == _not_acknowledged(replay, path, as_of), (path, as_of)


def replay_in(unit: str, path: str) -> bool:
    return unit == path or unit.startswith(path + "/")


def _not_acknowledged(replay: Replay, path: str, as_of: int) -> dict[str, int]:
    """Directives in force of `path` or a unit above it, past their ack_due, that units of the
    subtree still have to acknowledge: directive -> how many units."""
    out = {}
    for rid, d in replay.directives.items():
        if d["withdrawn"] or d["issuer"] not in ancestors(path):
            continue
        acknowledged = replay.figures(rid, path, as_of)["acknowledged"]
        if d["body"]["ack_due"] < as_of and acknowledged["missing"]:
            out[rid] = acknowledged["missing"]
    return out


def test_reminders_list_the_tasks_of_the_coming_week_and_the_late_ones(committee):
    world, replay = committee
    for now in _as_of_points(world):
        with world.views.reader() as r:
            for path in ("central", "central/p2"):
                due = due_items(r, path, now=now)
                open_tasks = [(rid, i, task["due"]) for rid, unit, i, task, state in replay.tasks()
                              if state["status"] != "done" and replay_in(unit, path)]
                assert {(t["resolution"], t["task"]) for t in due["tasks_due"]} == \
                    {(rid, i) for rid, i, at in open_tasks if now <= at <= now + WEEK_MS}, (path, now)
                assert {(t["resolution"], t["task"]) for t in due["tasks_late"]} == \
                    {(rid, i) for rid, i, at in open_tasks if at < now}, (path, now)
                assert [t["due"] for t in due["tasks_late"]] == sorted(t["due"] for t in due["tasks_late"])
                to_answer = {d["directive"] for d in due["directives"]}
                assert set(_not_acknowledged(replay, path, now)) <= to_answer


def test_reminders_list_the_units_that_have_not_filed_this_months_minutes(world, expected):
    for now in (world.clock, world.clock + 40 * DAY):
        with world.views.reader() as r:
            start = month_start(month_of(now, r.zone), r.zone)
            for path in ("central", "central/p2"):
                due = due_items(r, path, now=now)
                want = []
                for unit, u in expected.units.items():
                    if not expected.in_subtree(unit, path) or u["closed"] is not None:
                        continue
                    dates = [c.date for c in expected.records.values() if c.regular and c.unit == unit]
                    last = max(dates) if dates else None
                    if (last is None and u["opened"] < start) or (last is not None and last < start):
                        want.append((unit, last))
                got = [(m["unit"], m["last_regular_meeting"]) for m in due["minutes_not_filed"]]
                assert sorted(got) == sorted(want), (path, now)
                assert [last for _, last in got] == sorted((last for _, last in got),
                                                            key=lambda x: (x is not None, x or 0))


def test_absences_at_two_units_meetings_count_as_one_run():
    """A member's K latest attendances may lie at meetings of two units (their own and another's,
    as a guest): the run is over both, listed under the unit of the latest, and a correction of
    one of them (a reason given) ends it. The views keep attendances per unit that met."""
    w = build_world(5, blocks=3, per_block=10)
    home, away = CELLS[0], CELLS[1]
    member = w.members_of(home)[0]
    made = []
    for k in range(K):  # the member's newest meetings: away, home, away..., all absent without a reason
        unit = (away, home)[k % 2]
        body = {"meeting_id": f"{unit}/run/{k}", "kind": "regular", "held_at": w.clock + (k + 1) * DAY,
                "mode": "in_person", "chair": ROOT_SECRETARY, "secretary": ROOT_SECRETARY,
                "attendees": [{"member": member, "present": False}], "agenda": [], "opinions": [], "votes": [],
                "decisions": [], "text": f"Biên bản {k}"}
        made.append(w.org.envelope("minutes", unit, body, [ROOT_SECRETARY], created_at=w.clock + k))
    w.apply(made)
    latest_unit = (away, home)[(K - 1) % 2]
    with w.views.reader() as r:
        found = warnings_for(r, "central", now=w.clock, kinds=("absent_without_reason",))
    got = {x["member"]: (x["unit"], x["evidence"]) for x in found["warnings"]}
    assert got[member] == (latest_unit, [e.doc_id for e in made])
    assert got == _absent(Expected(w.org.genesis, w.accepted()), "central")
    excused = dict(made[1].doc.body, attendees=[{"member": member, "present": False, "reason": "ốm"}])
    w.apply([w.org.envelope("amendment", home, {"target": made[1].doc_id, "action": "amend", "reason": "lý do",
                                                "body": excused}, [ROOT_SECRETARY], refs=[made[1].doc_id])])
    with w.views.reader() as r:
        found = warnings_for(r, "central", now=w.clock, kinds=("absent_without_reason",))
    got = {x["member"]: (x["unit"], x["evidence"]) for x in found["warnings"]}
    assert member not in got
    assert got == _absent(Expected(w.org.genesis, w.accepted()), "central")


def test_a_run_of_absences_ends_at_a_newer_meeting_attended_and_not_at_an_older_one():
    """The run counts from the newest meeting back: minutes of a newer meeting the member
    attended end it; minutes of an older one, filed late, change nothing."""
    w = build_world(6, blocks=3, per_block=10)
    cell = CELLS[0]
    member = w.members_of(cell)[0]
    start = w.clock

    def meeting(k: int, present: bool):
        body = {"meeting_id": f"{cell}/late/{k}", "kind": "regular", "held_at": start + k * DAY,
                "mode": "in_person", "chair": ROOT_SECRETARY, "secretary": ROOT_SECRETARY,
                "attendees": [{"member": member, "present": present}], "agenda": [], "opinions": [], "votes": [],
                "decisions": [], "text": f"Biên bản {k}"}
        return w.org.envelope("minutes", cell, body, [ROOT_SECRETARY], created_at=start + k)

    def listed() -> dict:
        with w.views.reader() as r:
            found = warnings_for(r, "central", now=w.clock + 30 * DAY, kinds=("absent_without_reason",))
        got = {x["member"]: (x["unit"], x["evidence"]) for x in found["warnings"]}
        assert got == _absent(Expected(w.org.genesis, w.accepted()), "central")
        return got

    run = [meeting(k, False) for k in range(2, 2 + K)]
    w.apply(run)
    assert listed()[member] == (cell, [e.doc_id for e in run])
    w.apply([meeting(1, True)])  # older than the run: filed late
    assert listed()[member] == (cell, [e.doc_id for e in run])
    w.apply([meeting(2 + K, True)])  # newer: attended
    assert member not in listed()
