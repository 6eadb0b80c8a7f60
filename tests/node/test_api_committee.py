"""The committee routes over HTTP: each answers within the caller's scope, withholds the
warnings about members and findings from callers who are not inspectors, and refuses bad input
with a 400 naming the field (never a 5xx)."""

from __future__ import annotations

import pytest

from node.api import create_app
from tests.ledger.factory import CELLS, DAY, T0, make_org

from .service_double import ServiceDouble, key_file, signed_client

CELL, OTHER = CELLS[0], CELLS[2]


@pytest.fixture(scope="module")
def api():
    org = make_org(6)
    service = ServiceDouble(org.genesis, org.node_seeds, start_ms=T0)
    directive = org.directive("central/p1", ack_due=T0 + DAY, report_due=T0 + 5 * DAY)
    resolution = org.resolution(CELL)
    service.apply([directive.to_bytes(), resolution.to_bytes()])
    service.apply([org.directive_ack(directive, CELL).to_bytes()])

    def client(member):
        return signed_client(create_app(service), key_file(member, org.seeds[member]))

    return org, directive, resolution, client


def test_a_cell_secretary_reads_its_own_committee_work_and_not_another_cells(api):
    org, directive, resolution, client = api
    mine = client(org.secretary(CELL))
    answer = mine.get(f"/v1/orgs/{CELL}/directives").json()
    assert [d["directive"] for d in answer["addressed"]] == [directive.doc_id]
    assert answer["addressed"][0]["acknowledged_at"] is not None
    assert mine.get(f"/v1/resolutions/{resolution.doc_id}/tasks").json()["tasks"][0]["owner"]
    for route in (f"/v1/orgs/{OTHER}/directives", f"/v1/orgs/{OTHER}/tasks", f"/v1/orgs/{OTHER}/warnings",
                  f"/v1/orgs/{OTHER}/due", f"/v1/orgs/{OTHER}/duplicates", f"/v1/orgs/{OTHER}/polls",
                  f"/v1/directives/{directive.doc_id}"):
        response = mine.get(route)
        assert response.status_code == 403 and response.json()["error"] == "out_of_scope", route


def test_warnings_about_members_and_findings_are_for_inspectors(api):
    org, _, _, client = api
    officer = client(org.secretary("central/p1")).get("/v1/orgs/central/p1/warnings").json()
    assert officer["withheld"] == ["absent_without_reason", "finding_without_follow_up"]
    assert not {"absent_without_reason", "finding_without_follow_up"} & set(officer["counts"])
    inspector = client(org.inspector("central/p1")).get("/v1/orgs/central/p1/warnings").json()
    assert "withheld" not in inspector and "absent_without_reason" in inspector["counts"]


@pytest.mark.parametrize("route, field", [
    ("/v1/orgs/central/p1/directives?state=closed", "state"),
    ("/v1/orgs/central/p1/tasks?state=late", "state"),
    ("/v1/orgs/central/p1/tasks?until=10000-01-01", "until"),
    ("/v1/orgs/central/p1/warnings?kind=gossip", "kind"),
    ("/v1/orgs/central/p1/warnings?min_similarity=0.2", "min_similarity"),
    ("/v1/orgs/central/p1/duplicates?min_similarity=high", "min_similarity"),
    ("/v1/orgs/central/p1/duplicates?type=finding", "type"),
    ("/v1/orgs/central/p1/duplicates?since=2026-02-01&until=2026-01-01", "since"),
    ("/v1/orgs/Central!/due", "path"),
    ("/v1/directives/xyz", "doc_id"),
    ("/v1/resolutions/xyz/tasks", "doc_id"),
    ("/v1/orgs/central/p1/tasks?cursor=%%%", "cursor"),
])
def test_bad_input_is_a_400_naming_the_field(api, route, field):
    org, _, _, client = api
    response = client(org.secretary("central")).get(route)
    assert response.status_code == 400 and response.json()["field"] == field, response.text


def test_unknown_records_are_404(api):
    org, _, _, client = api
    root = client(org.secretary("central"))
    for route in ("/v1/directives/" + "a" * 64, "/v1/resolutions/" + "b" * 64 + "/tasks",
                  "/v1/orgs/central/p9/directives"):
        assert root.get(route).status_code == 404, route
