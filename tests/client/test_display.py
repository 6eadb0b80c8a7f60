"""One formatting rule for the CLI and the pages (issue 7 fault 5: the CLI showed 91.2% and
the web 91.3% for the same ratio): client/display.py and the explorer's JavaScript twin
agree on every pair, and the CLI and the page show the same text for the same answer."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from client.cli import main
from client.display import percent, ratio
from ledger.jsonfmt import b64e
from ledger.keys import public_key, write_key_file
from node.explorer import EXPLORER_HTML
from tests.ledger.factory import make_org
from tests.node.service_double import ServiceDouble, serve

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="needs Node.js to run the explorer's script "
                                                     "(.ci/run installs the nodejs package)")


def test_the_rule():
    assert percent(73, 80) == "91.3%"  # 91.25: half up (the CLI once printed 91.2%)
    assert percent(1, 3) == "33.3%" and percent(2, 3) == "66.7%" and percent(1, 8) == "12.5%"
    assert percent(80, 80) == "100.0%" and percent(0, 5) == "0.0%" and percent(3, 0) == "–"
    assert ratio(5, 3) == "1.67" and ratio(1, 8) == "0.13" and ratio(7, 1) == "7.00" and ratio(1, 0) == "–"


def _js(function_names: tuple[str, ...], pairs: list[tuple[int, int]]) -> list[list[str]]:
    """Run the explorer's own functions under Node.js over `pairs`."""
    source = []
    for name in function_names:
        match = re.search(r"function " + name + r"\(num, den\) \{.*?\n\}", EXPLORER_HTML, re.S)
        assert match, f"the explorer defines {name}(num, den)"
        source.append(match.group(0))
    script = "\n".join(source) + f"""
const pairs = JSON.parse(process.argv[1]);
console.log(JSON.stringify(pairs.map(([n, d]) => [{", ".join(f"{n}(n, d)" for n in function_names)}])));
"""
    out = subprocess.run([NODE, "-e", script, json.dumps(pairs)], capture_output=True, text=True, timeout=60,
                         check=True)
    return json.loads(out.stdout)


@needs_node
@given(pairs=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), min_size=1, max_size=200))
@settings(max_examples=20, deadline=None)
def test_the_explorer_formats_every_pair_as_the_cli_does(pairs):
    pairs = [(min(n, d), d) if d else (n, d) for n, d in pairs] + [(73, 80), (1, 8), (5, 3), (0, 0), (1, 2000)]
    assert _js(("formatPercent", "formatRatio"), pairs) == [[percent(n, d), ratio(n, d)] for n, d in pairs]


@needs_node
def test_the_cli_and_the_page_show_one_percentage_for_one_answer(tmp_path):
    """73 of 80 listed attendees present: the CLI's table and the explorer's script both say 91.3%."""
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
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=now - 86_400_000)
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
    [[page_text]] = _js(("formatPercent",), [(listed["present"], listed["listed"])])
    assert result.exit_code == 0, result.output
    assert page_text == "91.3%" and "91.3% (73 of 80)" in result.output
