"""Every figure the stats serve, checked against counts made straight from the raw
documents of a generated organisation (tests/views/expected.py), for every unit, several
periods, every row and every month; and the issue's faults about figures (attendance
against the list, participation over those present, overdue counted from `until`, the
committee's own meetings missing from the rows)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.timefmt import month_of
from tests.ledger.factory import DAY, T0
from views import unit_stats
from views.stats import month_range

from .expected import Expected
from .world import build_world


def flat(f: dict) -> Counter:
    """The served figures in tests/views/expected.py's names."""
    m, a, v = f["meetings"], f["attendance"], f["votes"]
    out = Counter({
        "held": m["held"], "regular": m["regular"], "thematic": m["thematic"], "extraordinary": m["extraordinary"],
        "on_time": m["on_time"], "late": m["late"], "unscheduled": m["unscheduled"],
        "roll": a["roll"]["members"], "roll_present": a["roll"]["present"], "listed": a["listed"]["listed"],
        "listed_present": a["listed"]["present"], "left_out": a["roll_members_left_out"],
        "incomplete": a["minutes_leaving_out_roll_members"], "opinions": f["opinions"]["total"],
        "motions": v["motions"], "ballots": v["ballots"], "eligible": v["eligible"],
        "adopted": f["resolutions"]["adopted"],
    })
    out.update({f"f.{k}": n for k, n in f["inspection_findings"].items()})
    out.update({f"c.{k}": n for k, n in f["member_status_changes"].items()})
    return +out  # drop zeros, as the expected counters have none


def check_ratios(f: dict) -> None:
    """Raw ratios: num / den exactly, null when there is nothing to divide by."""
    a, v, o, m = f["attendance"], f["votes"], f["opinions"], f["meetings"]
    for got, num, den in ((a["roll"]["rate"], a["roll"]["present"], a["roll"]["members"]),
                          (a["listed"]["rate"], a["listed"]["present"], a["listed"]["listed"]),
                          (v["participation"], v["ballots"], v["eligible"]),
                          (o["per_meeting"], o["total"], m["held"])):
        assert got == (num / den if den else None)


def check_unit(r, exp: Expected, unit: str, since: int, until: int, now: int) -> dict:
    s = unit_stats(r, unit, since=since, until=until, now=now, by_month=True)
    months = month_range(since, until, r.zone)
    assert flat(s) == +exp.counts(unit, months), unit
    assert s["meetings"]["units_with_regular_meeting"] == exp.units_met(unit, months)
    check_ratios(s)
    # one row per child (rolled up) and one for the unit's own records ...
    children = sorted(p for p in exp.units if p.rpartition("/")[0] == unit)
    assert [row["path"] for row in s["children"]] == [unit] + children
    own = s["children"][0]
    assert own["own"] is True and flat(own) == +exp.counts(unit, months, own=True)
    assert own["meetings"]["units_with_regular_meeting"] == exp.units_met(unit, months, own=True)
    for row in s["children"][1:]:
        assert row["own"] is False and flat(row) == +exp.counts(row["path"], months)
        check_ratios(row)
    # ... which add up to the header, figure by figure
    total = Counter()
    for row in s["children"]:
        total.update(flat(row))
    assert total == flat(s)
    assert sum(row["meetings"]["units_with_regular_meeting"] for row in s["children"]) == \
        s["meetings"]["units_with_regular_meeting"]
    for key in ("cells", "committees"):
        assert sum(row["overdue"][key] for row in s["children"]) == s["overdue"][key]
    # every month
    assert [m["month"] for m in s["series"]] == months
    for m in s["series"]:
        assert flat(m) == +exp.counts(unit, [m["month"]])
        assert m["meetings"]["units_with_regular_meeting"] == exp.units_met(unit, [m["month"]])
    # overdue at min(until, now), cells apart from committees, each with its last regular meeting
    as_of = min(until, now)
    assert s["as_of"] == as_of
    expected = exp.overdue(unit, as_of)
    for kind in ("cells", "committees"):
        got = sorted((u["path"], u["last_regular_meeting"]) for u in s["overdue_units"][kind])
        assert got == sorted(expected[kind]), (unit, kind)
        assert s["overdue"][kind] == len(expected[kind])
    open_units = [p for p, u in exp.units.items() if exp.in_subtree(p, unit) and u["closed"] is None]
    assert s["units"]["total"] == len(open_units)
    assert s["units"]["cells"] == sum(1 for p in open_units if exp.children_open(p) == 0)
    return s


@pytest.fixture(scope="module")
def world():
    return build_world(11, blocks=14, per_block=25)


def test_the_generated_organisation_exercises_every_figure(world, expected):
    """Not a vacuous comparison: most documents are accepted and every figure is non-zero somewhere."""
    accepted = world.accepted()
    assert len(accepted) >= 0.8 * 14 * 25
    total = expected.counts("central", sorted({c.month for c in expected.records.values()}))
    for name in ("held", "regular", "thematic", "extraordinary", "on_time", "late", "unscheduled", "roll",
                 "roll_present", "listed", "listed_present", "left_out", "incomplete", "opinions", "motions",
                 "ballots", "eligible", "adopted", "c.admitted", "c.transferred", "c.made_full"):
        assert total[name] > 0, name
    assert total["listed"] != total["roll"]  # partial lists and guests: the two attendances differ
    kinds = [a.doc.type for a in accepted]
    assert kinds.count("profile_entry") > 5 and kinds.count("amendment") > 5
    actions = {a.doc.body["action"] for a in accepted if a.doc.type == "amendment"}
    assert actions == {"amend", "withdraw"}
    assert any(c.date < 0 for c in expected.records.values())  # dated before 1970
    assert any(c.unit not in [u["path"] for u in world.org.genesis["units"]] for c in expected.records.values())


@pytest.mark.parametrize("since_days, until_days", [(-420, 40), (-120, -30), (-200, -200), (-20000, -19000)])
def test_every_unit_and_period_matches_the_documents(world, expected, since_days, until_days):
    since, until = T0 + since_days * DAY, T0 + until_days * DAY
    with world.views.reader() as r:
        for unit in sorted(expected.units):
            check_unit(r, expected, unit, since, until, now=world.clock)


def test_overdue_is_counted_at_the_earlier_of_until_and_now(world, expected):
    """Issue 7 fault 4: a period ending in the future marked every unit overdue, committees
    included, and gave no last meeting. Counted at min(until, now), a unit that met in the
    month before now is not overdue, and those that are carry their last meeting."""
    now = max(c.date for c in expected.records.values() if c.regular) + DAY
    with world.views.reader() as r:
        future = unit_stats(r, "central", since=now - 90 * DAY, until=now + 400 * DAY, now=now)
        at_now = unit_stats(r, "central", since=now - 90 * DAY, until=now, now=now)
    assert future["as_of"] == now
    assert future["overdue_units"] == at_now["overdue_units"]
    listed = future["overdue_units"]["cells"] + future["overdue_units"]["committees"]
    assert len(listed) < future["units"]["total"]
    assert all("last_regular_meeting" in u for u in listed)
    assert any(u["last_regular_meeting"] is not None for u in listed) or not listed


@given(seed=st.integers(0, 10_000))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_figures_match_for_generated_organisations(seed):
    world = build_world(seed, blocks=5, per_block=20)
    exp = Expected(world.org.genesis, world.accepted())
    with world.views.reader() as r:
        for unit in ("central", "central/p1", "central/p1/k1", "central/p1/k1/s1"):
            check_unit(r, exp, unit, T0 - 420 * DAY, T0 + 40 * DAY, now=world.clock)


def test_month_buckets_are_calendar_months_in_the_chain_zone(world):
    """A meeting held at 20:00 UTC on 31 January is in February in Asia/Ho_Chi_Minh (UTC+7)."""
    t = 1_769_889_600_000  # 2026-01-31T20:00:00Z
    assert month_of(t, "Asia/Ho_Chi_Minh") == "2026-02" and month_of(t, "UTC") == "2026-01"
    with world.views.reader() as r:
        assert r.zone_name == "Asia/Ho_Chi_Minh"
        assert month_range(t, t, r.zone) == ["2026-02"]
