"""One formatting rule for the CLI and the pages (issue 7 fault 5: the CLI showed 91.2% and
the web 91.3% for the same ratio): client/display.py's rule, and the CLI showing it for an answer.
The pages' twin of the rule (web/js/i18n.js) is held to it pair by pair, and on a dashboard,
by tests/web/test_format.py in the browser."""

from __future__ import annotations

import json

from click.testing import CliRunner

from client.cli import main
from client.display import percent, ratio
from ledger.jsonfmt import b64e
from ledger.keys import public_key, write_key_file
from tests.ledger.factory import make_org
from tests.node.service_double import ServiceDouble, serve


def test_the_rule():
    assert percent(73, 80) == "91.3%"  # 91.25: half up (the CLI once printed 91.2%)
    assert percent(1, 3) == "33.3%" and percent(2, 3) == "66.7%" and percent(1, 8) == "12.5%"
    assert percent(80, 80) == "100.0%" and percent(0, 5) == "0.0%" and percent(3, 0) == "–"
    assert ratio(5, 3) == "1.67" and ratio(1, 8) == "0.13" and ratio(7, 1) == "7.00" and ratio(1, 0) == "–"


def test_the_cli_shows_the_rules_percentage_for_an_answer(tmp_path):
    """73 of 80 listed attendees present: the CLI's table says 91.3% (the CLI once printed 91.2%)."""
    org = make_org(9)
    cell = "central/p1/k1/s1"
    members = []
    for i in range(80):
        member = f"big-{i:02d}"
        members.append(member)
        org.seeds[member] = org.new_seed(member)
        org.genesis["members"].append({"member_id": member, "unit": "central/p1/k2/s1", "status": "full",
                                       "roles": [], "public_key": b64e(public_key(org.seeds[member]))})
    import time

    now = int(time.time() * 1000)
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=now)
    attendees = [{"member": m, "present": i >= 7} for i, m in enumerate(members)]  # 73 present of 80 listed
    body = {"meeting_id": f"{cell}/1", "kind": "regular", "held_at": now - 3_600_000, "mode": "online",
            "chair": "sec-central", "secretary": "sec-central", "attendees": attendees, "agenda": [],
            "opinions": [], "votes": [], "decisions": [], "text": "x"}
    service.apply([org.envelope("minutes", cell, body, ["sec-central"], created_at=now - 3_000_000).to_bytes()])
    key = tmp_path / "n1.json"
    write_key_file(key, id_field="node_id", id="n1", seed=org.node_seeds["n1"])
    with serve(service) as url:
        result = CliRunner().invoke(main, ["stats", cell, "--node", url, "--key", str(key)])
        answer = json.loads(CliRunner().invoke(main, ["stats", cell, "--json", "--node", url, "--key", str(key)]).output)
    listed = answer["attendance"]["listed"]
    assert (listed["present"], listed["listed"]) == (73, 80)
    assert result.exit_code == 0, result.output
    assert percent(listed["present"], listed["listed"]) == "91.3%" and "91.3% (73 of 80)" in result.output
