"""`minutebook directives | tasks | poll show | poll verify | duplicates | warnings | due`: committee work.

Every command reads the node's committee routes (README "Committee work") with a signed request
(``--key``) and prints tables, or the node's JSON with ``--json`` (one object: ready for a cron job
that mails it). Times are shown in the display zone (``--tz``). ``poll verify`` trusts nothing the
node says: it recounts from receipts (client/recount.py). Registered on the group in client/cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_common import EXIT_CODES_HELP, EXIT_INPUT, cli_errors, echo_json, fail, key_option, node_option, request_key
from .cli_views import _date, _parse, _when, _zone, tz_option
from .display import NONE, percent

__all__ = ["directives", "tasks", "poll_group", "duplicates", "warnings_command", "due", "COMMANDS"]

TASK_STATES = ("open", "overdue", "done_on_time", "done_late")
WARNING_KINDS = ("overdue_meeting", "low_attendance", "absent_without_reason", "task_past_due",
                 "directive_not_acknowledged", "finding_without_follow_up", "near_duplicate_minutes",
                 "repeated_opinions")
_HOUR = 3_600_000


def _hours(ms: int | None) -> str:
    return NONE if ms is None else f"{ms / _HOUR:g} h"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _figure_cells(f: dict) -> list[str]:
    a, r = f["acknowledged"], f["reported"]
    return [str(f["addressed"]), f"{a['total']} ({a['late']} late)", f"{a['missing']} ({a['overdue']} overdue)",
            f"{r['total']} ({r['late']} late)", f"{r['missing']} ({r['overdue']} overdue)",
            f"{_hours(a['delay']['median_ms'])} / {_hours(a['delay']['p90_ms'])}"]


_FIGURE_COLUMNS = ["addressed", "acknowledged", "not acknowledged", "reported", "not reported",
                   "ack delay median / p90"]


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("path")
@click.option("--directive", "directive_id", metavar="DOC_ID",
              help="Show this directive's figures over PATH's subtree, one row per sub-unit.")
@click.option("--all", "every", is_flag=True, help="Also list directives the unit has finished (final report filed).")
@click.option("--json", "as_json", is_flag=True, help="Print the node's JSON answer.")
@tz_option()
@node_option()
@key_option()
@cli_errors
def directives(path: str, directive_id: str | None, every: bool, as_json: bool, tz: str | None, node: str,
               key_path: str | None) -> None:
    """Directives of a unit: those addressed to it with its answers, and those it issued with how
    the units below answered (addressed, acknowledged, late, reported, delays).

    \b
    Examples:
      minutebook directives central/p1/k1/s1 --key devnet/keys/members/m0010.json
      minutebook directives central/p1 --directive 3f2a... --key devnet/keys/members/m0004.json
    """
    from .sdk import Client

    _zone(tz)
    with Client(node, key=request_key(key_path)) as client:
        if directive_id is not None:
            data = client.directive(directive_id, path=path)
        else:
            data = client.directives(path, state="all" if every else "open")
    if as_json:
        echo_json(data)
        return
    if directive_id is not None:
        rows = [[f"{data['unit']} (total)", *_figure_cells(data)]]
        rows += [[row["path"] + (" (itself)" if row["own"] else ""), *_figure_cells(row)] for row in data["children"]]
        _table(f"directive {data['number']} of {data['issuer']}: {data['title']} (acknowledge by "
               f"{_date(data['ack_due'], tz)}, report by {_date(data['report_due'], tz)})",
               ["unit", *_FIGURE_COLUMNS], rows)
        return
    _table(f"directives addressed to {data['unit']}", ["number", "issuer", "title", "ack due", "acknowledged",
                                                       "report due", "reports", "final report"],
           [[d["number"], d["issuer"], d["title"], _date(d["ack_due"], tz),
             _when(d["acknowledged_at"], tz) + (" (late)" if d["ack_late"] else "")
             + (" OVERDUE" if d["ack_overdue"] else ""),
             _date(d["report_due"], tz), str(d["reports"]),
             _when(d["reported_at"], tz) + (" (late)" if d["report_late"] else "")
             + (" OVERDUE" if d["report_overdue"] else "")] for d in data["addressed"]])
    if data["issued"]:
        _table(f"directives issued by {data['unit']}", ["number", *_FIGURE_COLUMNS],
               [[d["number"], *_figure_cells(d)] for d in data["issued"]])


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("path")
@click.option("--state", type=click.Choice(TASK_STATES), help="List only the unit's tasks in this state.")
@click.option("--all", "every", is_flag=True, help="List every page of the unit's tasks (default: the first).")
@click.option("--json", "as_json", is_flag=True, help="Print the node's JSON answer (every page with --all).")
@tz_option()
@node_option()
@key_option()
@cli_errors
def tasks(path: str, state: str | None, every: bool, as_json: bool, tz: str | None, node: str,
          key_path: str | None) -> None:
    """Resolution tasks of a subtree: open, done on time, done late, overdue and blocked, rolled up
    (one row per sub-unit), and the unit's own tasks with their status and last report.

    \b
    Example:
      minutebook tasks central/p1/k1 --state overdue --key devnet/keys/members/m0004.json
    """
    from .sdk import Client

    _zone(tz)
    with Client(node, key=request_key(key_path)) as client:
        data = client.tasks(path, state=state)
        items = list(data["items"])
        while every and data["next_cursor"]:
            data = client.tasks(path, state=state, cursor=data["next_cursor"])
            items += data["items"]
    if as_json:
        echo_json(dict(data, items=items))
        return
    columns = ["tasks", "done on time", "done late", "open", "overdue", "blocked"]
    _table(f"tasks of {data['unit']} at {_date(data['as_of'], tz)}", ["unit", *columns],
           [[f"{data['unit']} (total)", *(str(data[c.replace(' ', '_')]) for c in columns)]]
           + [[row["path"] + (" (own)" if row["own"] else ""), *(str(row[c.replace(' ', '_')]) for c in columns)]
              for row in data["children"]])
    _table(f"the tasks of {data['unit']}", ["resolution", "task", "owner", "due", "status", "reports", "state"],
           [[t["number"], t["description"], t["owner"], _date(t["due"], tz), t["status"], str(t["reports"]),
             t["state"]] for t in items])


@click.group("poll")
def poll_group() -> None:
    """A poll: its state and tally (show), or a recount from receipts (verify)."""


@poll_group.command("show", epilog=EXIT_CODES_HELP)
@click.argument("poll_id")
@click.option("--json", "as_json", is_flag=True, help="Print the node's JSON answer.")
@tz_option()
@node_option()
@key_option()
@cli_errors
def poll_show(poll_id: str, as_json: bool, tz: str | None, node: str, key_path: str | None) -> None:
    """A poll's motion, roll (size and fingerprint), state and, once closed, the tally the ledger computed.

    \b
    Example:
      minutebook poll show 3f2a... --key devnet/keys/members/m0010.json
    """
    from .sdk import Client

    _zone(tz)
    with Client(node, key=request_key(key_path)) as client:
        data = client.poll(poll_id)
    if as_json:
        echo_json(data)
        return
    tally = data.get("tally")
    rows = [["motion", data["motion"]], ["unit", data["org"]], ["closes at", _when(data["closes_at"], tz)],
            ["roll", f"{data['roll_size']} members ({data['eligible']}), fingerprint {data['roll_fingerprint']}"],
            ["state", data["status"]]]
    if tally:
        rows += [["tally", ", ".join(f"{k} {v}" for k, v in tally["counts"].items())],
                 ["cast", f"{tally['cast']} of {tally['eligible']} ({percent(tally['cast'], tally['eligible'])})"],
                 ["quorum", "met" if tally["quorum_met"] else "NOT met"],
                 ["closed", _when(tally["closed_at"], tz) + (" (early)" if tally["early"] else "")]]
    _table(f"poll {data['poll_id']}", ["", ""], rows)


@poll_group.command("verify", epilog=EXIT_CODES_HELP)
@click.argument("poll_id")
@click.option("--genesis", "-g", "genesis_path", required=True, type=click.Path(dir_okay=False),
              help="genesis.json of the chain (the receipts are checked against it).")
@click.option("--json", "as_json", is_flag=True, help="Print the recount as one JSON object.")
@node_option()
@key_option()
@cli_errors
def poll_verify(poll_id: str, genesis_path: str, as_json: bool, node: str, key_path: str | None) -> None:
    """Recount a poll from receipts alone: fetch the poll, every ballot and the close with their
    receipts, verify each receipt offline, check the roll against its fingerprint and every ballot's
    voter against the roll, recount by the ledger's rule (each voter's last ballot before the close)
    and compare with the tally. Exits 1 naming the first check that fails (a tampered ballot, a
    ballot missing from the list, a voter not on the roll, a tally that differs).

    \b
    Example:
      minutebook poll verify 3f2a... --genesis devnet/genesis.json --key devnet/keys/members/m0010.json
    """
    from .recount import RecountFailed, recount
    from .sdk import Client

    try:
        genesis = json.loads(Path(genesis_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise fail(f"--genesis {genesis_path}: cannot read it as JSON ({exc})", EXIT_INPUT) from None
    with Client(node, key=request_key(key_path)) as client:
        state = client.poll(poll_id)
        ballots, cursor = [], None
        while True:
            page = client.poll_ballots(poll_id, cursor=cursor, limit=500)
            ballots += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        poll_receipt = client.receipt(poll_id)
        close = state.get("close")
        close_receipt = client.receipt(close["doc_id"]) if close else None
        receipts = {b["doc_id"]: client.receipt(b["doc_id"]) for b in ballots}
    try:
        result = recount(poll_id, state, poll_receipt, close_receipt, ballots, receipts, genesis)
    except RecountFailed as exc:
        raise fail(f"FAILED {exc.check}: {exc.message.split(': ', 1)[1]}") from None
    if as_json:
        echo_json({"poll": result.poll, "ok": True, "counts": result.counts, "cast": result.cast,
                   "eligible": result.eligible, "quorum_met": result.quorum_met, "ballots": result.ballots,
                   "superseded": result.superseded})
        return
    click.echo(f"OK poll {poll_id}: {result.ballots} ballots verified from receipts ({result.superseded} replaced "
               f"by the same voter's later ballot); recount {', '.join(f'{k} {v}' for k, v in result.counts.items())}"
               f"; cast {result.cast} of {result.eligible}; quorum {'met' if result.quorum_met else 'NOT met'}; "
               f"equals the ledger's tally")


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("path")
@click.option("--since", metavar="TIME", help="Records dated from: 2026-01-01 or unix ms.")
@click.option("--until", metavar="TIME", help="Records dated until: 2026-06-30 or unix ms.")
@click.option("--type", "kind", type=click.Choice(["minutes", "resolution"]), help="Only this type.")
@click.option("--min-similarity", type=float, help="0.5..1 [default: the node's views.similarity_threshold].")
@click.option("--json", "as_json", is_flag=True, help="Print the node's JSON answer.")
@tz_option()
@node_option()
@key_option()
@cli_errors
def duplicates(path: str, since: str | None, until: str | None, kind: str | None, min_similarity: float | None,
               as_json: bool, tz: str | None, node: str, key_path: str | None) -> None:
    """Near-duplicate minutes and resolutions in a subtree (texts that are copies of each other once
    unit names, dates and numbers are left out), and opinions repeated word for word. Flags for an
    inspector to look at, never a verdict.

    \b
    Example:
      minutebook duplicates central/p1 --since 2026-01-01 --key devnet/keys/members/m0004.json
    """
    from .sdk import Client

    _zone(tz)
    with Client(node, key=request_key(key_path)) as client:
        data = client.duplicates(path, since=_parse(since, "since", tz), until=_parse(until, "until", tz), type=kind,
                                 min_similarity=min_similarity)
    if as_json:
        echo_json(data)
        return
    _table(f"near-duplicate groups with a record of {data['unit']} (similarity >= {data['threshold']:g})",
           ["type", "records", "units", "similarity", "members (unit, date)"],
           [[g["type"], str(g["size"]), str(g["units"]),
             f"{g['similarity']['min']:.2f}..{g['similarity']['max']:.2f}",
             "; ".join(f"{m['unit']} {_date(m['date'], tz)}" for m in g["members"][:6])
             + (" ..." if g["size"] > 6 else "")] for g in data["groups"]])
    opinions = data["opinions"]
    if opinions["wordings"]:
        _table("opinion wordings used in several meetings", ["wording", "meetings", "opinions"],
               [[o["text"] or "", str(o["meetings"]), str(o["opinions"])] for o in opinions["wordings"]])


@click.command("warnings", epilog=EXIT_CODES_HELP)
@click.argument("path")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(WARNING_KINDS),
              help="Only warnings of this kind (repeat for several) [default: every kind].")
@click.option("--until", metavar="TIME", help="As of the earlier of this and now: 2026-06-30 or unix ms.")
@click.option("--json", "as_json", is_flag=True, help="Print the node's JSON answer.")
@tz_option()
@node_option()
@key_option()
@cli_errors
def warnings_command(path: str, kinds: tuple[str, ...], until: str | None, as_json: bool, tz: str | None, node: str,
                     key_path: str | None) -> None:
    """Early warnings for a subtree, each with its evidence documents: units overdue for a regular
    meeting, low attendance for months in a row, members absent without reason meeting after
    meeting, tasks past due, directives not acknowledged, findings without follow-up, near-duplicate
    minutes, repeated opinions. Warnings about members and findings are shown to inspectors only.

    \b
    Example:
      minutebook warnings central/p1 --kind task_past_due --kind near_duplicate_minutes \\
          --key devnet/keys/members/m0004.json
    """
    from .sdk import Client

    _zone(tz)
    with Client(node, key=request_key(key_path)) as client:
        data = client.warnings(path, kind=",".join(kinds) or None, until=_parse(until, "until", tz))
    if as_json:
        echo_json(data)
        return
    counts = ", ".join(f"{k} {n}" for k, n in data["counts"].items())
    _table(f"warnings for {data['unit']} at {_date(data['as_of'], tz)}: {counts}",
           ["kind", "unit", "member", "detail", "evidence"],
           [[w["kind"], w["unit"] or "", w.get("member") or "",
             json.dumps(w["detail"], ensure_ascii=False)[:80], ", ".join(e[:12] for e in w["evidence"][:3])]
            for w in data["warnings"]])
    if data.get("withheld"):
        click.echo(f"withheld (inspectors only): {', '.join(data['withheld'])}")


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for a cron job that mails it).")
@tz_option()
@node_option()
@key_option()
@cli_errors
def due(path: str, as_json: bool, tz: str | None, node: str, key_path: str | None) -> None:
    """What is due or late in a subtree now: units that have not filed this month's regular minutes,
    directives to acknowledge or report on, tasks due in the next 7 days and tasks late.

    \b
    Example (a weekly mail):
      minutebook due central/p1 --json --key office.json | mail -s "Việc đến hạn" office@example.org
    """
    from .sdk import Client

    _zone(tz)
    with Client(node, key=request_key(key_path)) as client:
        data = client.due(path)
    if as_json:
        echo_json(data)
        return
    _table(f"minutes not filed for {data['month']} in {data['unit']}", ["unit", "last regular meeting"],
           [[u["unit"], _date(u["last_regular_meeting"], tz)] for u in data["minutes_not_filed"]])
    _table("directives to acknowledge or report on", ["number", "issuer", "ack due", "not acknowledged",
                                                      "report due", "not reported"],
           [[d["number"], d["issuer"], _date(d["ack_due"], tz), str(d["acknowledged"]["missing"]),
             _date(d["report_due"], tz), str(d["reported"]["missing"])] for d in data["directives"]])
    for title, items in (("tasks due in the next 7 days", data["tasks_due"]), ("tasks late", data["tasks_late"])):
        _table(title, ["unit", "resolution", "task", "owner", "due", "status"],
               [[t["unit"], t["number"], t["description"], t["owner"], _date(t["due"], tz), t["status"]]
                for t in items])


COMMANDS = (directives, tasks, poll_group, duplicates, warnings_command, due)
