"""`minutebook stats | member | list` against a served node with the sample organisation:
what they print matches the API's answers; bad input is one line with exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from client.cli import main
from client.sample_org import SampleOrg
from tests.node.service_double import serve

from .sample_service import ANCHOR, NODE_SEEDS, loaded_service

KEY = {}


def run(*args: str):
    return CliRunner().invoke(main, [*args, "--key", KEY["path"]])


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A served node with the sample organisation; the CLI reads as node n1 (everything)."""
    from ledger.keys import write_key_file

    org = SampleOrg(seed=3, anchor_ms=ANCHOR)
    _, service = loaded_service(org)
    KEY["path"] = str(tmp_path_factory.mktemp("keys") / "n1.json")
    write_key_file(KEY["path"], id_field="node_id", id="n1", seed=NODE_SEEDS["n1"])
    with serve(service) as url:
        yield {"org": org, "url": url, "service": service}


def _api(node, path: str, **query) -> dict:
    from client.sdk import Client
    from ledger.keys import read_key_file

    with Client(node["url"], key=read_key_file(KEY["path"])) as client:
        return client._get(path, **query)


def test_member_prints_identity_and_every_timeline_entry(node):
    org = node["org"]
    member = next(m for m in org.members if not m.in_genesis and not m.roles)
    answer = json.loads(run("member", member.member_id, "--all", "--limit", "3", "--json", "--node",
                            node["url"]).output)
    whole = _api(node, f"/v1/members/{member.member_id}", limit=500)
    assert answer["timeline"] == whole["timeline"] and answer["next_cursor"] is None
    text = run("member", member.member_id, "--all", "--node", node["url"], "--tz", "Asia/Ho_Chi_Minh")
    assert text.exit_code == 0, text.output
    assert member.member_id in text.output and "timeline" in text.output
    assert text.output.count("meeting") >= sum(1 for e in whole["timeline"] if e["kind"] == "attendance")


def test_list_documents_of_a_unit_by_type_and_period(node):
    unit = "central/p1/k1/s1"
    out = run("list", "documents", unit, "--type", "minutes", "--since", "2025-01-01", "--limit", "2", "--all",
              "--json", "--node", node["url"])
    assert out.exit_code == 0, out.output
    items = [json.loads(line) for line in out.output.splitlines()]
    from ledger.timefmt import parse_time

    since = parse_time("2025-01-01", tz="Asia/Ho_Chi_Minh")
    whole = _api(node, f"/v1/orgs/{unit}/documents", type="minutes", since=since, limit=500)["items"]
    assert items == whole and len(items) > 2 and {i["type"] for i in items} == {"minutes"}
    table = run("list", "documents", unit, "--newest-first", "--node", node["url"])
    assert table.exit_code == 0 and "minutes" in table.output


def test_list_members_and_a_members_documents(node):
    org = node["org"]
    unit = "central/p1/k1/s1"
    out = run("list", "members", unit, "--status", "full", "--json", "--all", "--limit", "2", "--node", node["url"])
    items = [json.loads(line) for line in out.output.splitlines()]
    assert items and all(i["status"] == "full" for i in items)
    assert [i["member_id"] for i in items] == [i["member_id"] for i in
                                               _api(node, f"/v1/orgs/{unit}/members", status="full")["items"]]
    member = next(m for m in org.members if not m.in_genesis and not m.roles)
    docs = run("list", "documents", "--member", member.member_id, "--json", "--node", node["url"])
    assert [json.loads(line) for line in docs.output.splitlines()] == \
        _api(node, f"/v1/members/{member.member_id}/documents")["items"]


@pytest.mark.parametrize("args, needle, code", [
    (("stats", "central", "--since", "yesterday"), "since", 2),
    (("stats", "central", "--since", "2026-06-01", "--until", "2026-01-01"), "since", 2),
    (("stats", "central", "--tz", "Mars/Olympus"), "tz", 2),
    (("list", "documents", "central", "--member", "m0001"), "not both", 2),
    (("list", "documents", "central", "--type", "Minutes"), "type", 2),
    (("stats", "central/nowhere"), "not found", 1),
    (("member", "nobody"), "not found", 1),
])
def test_bad_input_is_one_line(node, args, needle, code):
    out = run(*args, "--node", node["url"])
    assert out.exit_code == code, out.output
    assert out.output.startswith("error: ") and out.output.count("\n") == 1, out.output
    assert needle in out.output.lower() and "Traceback" not in out.output
