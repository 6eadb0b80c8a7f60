"""client/docinput.py: the one reader of times in documents people write,
driven by the body schemas (issue 7 fault 6: YAML times without an offset were
read as UTC while every user is on UTC+7; import refused the ISO dates that
submit accepted)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from client.cli_common import parse_document_text
from client.docinput import normalise_document, normalise_times
from ledger.documents import validate_body
from ledger.errors import InvalidInput

HCM = dt.timezone(dt.timedelta(hours=7))


def ms(*args, tz=HCM) -> int:
    return round(dt.datetime(*args, tzinfo=tz).timestamp() * 1000)


RESOLUTION = {"number": "12/NQ", "title": "Về kế hoạch", "text": "...", "adopted_at": "2026-09-01T19:00",
              "minutes": None, "tally": {"for": 3, "against": 0, "abstain": 0, "eligible": 5},
              "tasks": [{"owner": "m1", "due": "2026-10-01", "description": "a"},
                        {"owner": "m2", "due": 1_790_000_000_000, "description": "b"}]}


def test_time_fields_found_through_the_schema():
    body = normalise_times("resolution", RESOLUTION, "Asia/Ho_Chi_Minh")
    assert body["adopted_at"] == ms(2026, 9, 1, 19) and body["tasks"][0]["due"] == ms(2026, 10, 1)
    assert body["tasks"][1]["due"] == 1_790_000_000_000 and body["minutes"] is None
    assert body["number"] == "12/NQ" and body["tally"] == RESOLUTION["tally"]
    validate_body("resolution", body)
    assert RESOLUTION["adopted_at"] == "2026-09-01T19:00"  # the input is not changed
    utc = normalise_times("resolution", RESOLUTION, "UTC")
    assert utc["adopted_at"] == ms(2026, 9, 1, 19, tz=dt.timezone.utc)


def test_nullable_and_optional_times_and_every_new_type():
    minutes = {"held_at": "2026-09-01T19:00+07:00", "scheduled_for": "2026-09-01", "text": "2026-09-01"}
    out = normalise_times("minutes", minutes)
    assert out == {"held_at": ms(2026, 9, 1, 19), "scheduled_for": ms(2026, 9, 1), "text": "2026-09-01"}
    assert normalise_times("minutes", {"scheduled_for": None}) == {"scheduled_for": None}
    directive = normalise_times("directive", {"issued_at": "2026-09-01", "ack_due": "2026-09-08",
                                              "report_due": "2026-10-01", "addressed": {"scope": "subtree"}})
    assert directive["ack_due"] == ms(2026, 9, 8) and directive["addressed"] == {"scope": "subtree"}
    entry = normalise_times("profile_entry", {"started_at": "1965-03-01", "completed_at": "1966-01-01"}, "UTC")
    assert entry["started_at"] < 0
    assert normalise_times("poll", {"closes_at": "2026-09-03T17:00"})["closes_at"] == ms(2026, 9, 3, 17)


def test_bad_times_name_the_field():
    with pytest.raises(InvalidInput) as info:
        normalise_times("resolution", dict(RESOLUTION, tasks=[{"owner": "m1", "due": "mai", "description": "x"}]))
    assert info.value.field == "body.tasks[0].due" and "not a time" in info.value.rule
    with pytest.raises(InvalidInput) as info:
        normalise_times("minutes", {"held_at": "10000-01-01T00:00Z"})
    assert info.value.field == "body.held_at"
    with pytest.raises(InvalidInput) as info:
        normalise_times("minutes", {"held_at": "2026-01-01"}, "Mars/Olympus")
    assert info.value.field == "tz"


def test_yaml_objects_where_no_time_is_expected_are_refused():
    doc = yaml.safe_load("type: minutes\nbody:\n  held_at: 2026-09-01 19:00:00\n  agenda: [2026-09-01]\n")
    with pytest.raises(InvalidInput) as info:
        normalise_document(doc)
    assert info.value.field == "body.agenda[0]" and "quote it" in info.value.rule
    with pytest.raises(InvalidInput) as info:
        normalise_document({"type": "minutes", "org": dt.date(2026, 1, 1), "body": {}})
    assert info.value.field == "org"


def test_amendments_read_the_replacement_with_the_targets_schema():
    amendment = {"target": "a" * 64, "action": "amend", "reason": "sửa ngày",
                 "body": dict(RESOLUTION, adopted_at="2026-09-02T19:00")}
    known = normalise_times("amendment", amendment, amended_type="resolution")
    assert known["body"]["adopted_at"] == ms(2026, 9, 2, 19) and known["body"]["tasks"][0]["due"] == ms(2026, 10, 1)
    unknown = normalise_times("amendment", amendment)  # no schema for the body: strings stay strings
    assert unknown["body"]["adopted_at"] == "2026-09-02T19:00"
    from_yaml = normalise_times("amendment", dict(amendment, body={"adopted_at": dt.datetime(2026, 9, 2, 19)}))
    assert from_yaml["body"]["adopted_at"] == ms(2026, 9, 2, 19)  # a YAML datetime is a time anyway
    with pytest.raises(InvalidInput) as info:
        normalise_times("amendment", dict(amendment, body={"tasks": [{"due": "x"}]}), amended_type="resolution")
    assert info.value.field == "body.body.tasks[0].due"


def test_confidential_meta_and_unknown_types_are_read_without_a_schema():
    body = {"confidential": True, "meta": {"held_at": dt.date(2026, 9, 1), "label": "2026-09-01"}}
    out = normalise_times("minutes", body)
    assert out["meta"] == {"held_at": ms(2026, 9, 1), "label": "2026-09-01"}
    assert normalise_times("memo", {"at": "2026-09-01"}) == {"at": "2026-09-01"}
    assert normalise_times("minutes", ["not", "a", "map"]) == ["not", "a", "map"]


def test_yaml_without_an_offset_is_read_in_the_display_zone_not_utc(monkeypatch):
    text = ("type: minutes\norg: central\ncreated_at: 2026-11-21\nbody:\n  held_at: 2026-11-20 19:00:00\n"
            "  scheduled_for: 2026-11-20\n  text: x\n")
    doc = parse_document_text(text, "m.yaml")
    assert doc["body"]["held_at"] == ms(2026, 11, 20, 19) and doc["created_at"] == ms(2026, 11, 21)
    assert parse_document_text(text, "m.yaml", "UTC")["body"]["held_at"] == ms(2026, 11, 20, 19, tz=dt.timezone.utc)
    monkeypatch.setenv("MINUTEBOOK_TZ", "Asia/Tokyo")
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert parse_document_text(text, "m.yaml")["body"]["held_at"] == ms(2026, 11, 20, 19, tz=tokyo)
    as_json = parse_document_text('{"type": "minutes", "body": {"held_at": "2026-11-20T19:00"}}', "m.json")
    assert as_json["body"]["held_at"] == ms(2026, 11, 20, 19, tz=tokyo)
