"""`minutebook stats | member | list | views rebuild`: reading the read models.

Figures come from the node raw (counts and unrounded ratios) and are shown
with the one rule of client/display.py; times are shown, and typed times
without an offset are read, in the display zone (``--tz``, else
``$MINUTEBOOK_TZ``, else Asia/Ho_Chi_Minh). Registered on the group in
client/cli.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import click

from .cli_common import EXIT_CODES_HELP, EXIT_INPUT, cli_errors, echo_json, fail, key_option, node_option, request_key
from .display import NONE, percent, ratio

__all__ = ["stats", "member", "list_group", "views_group", "COMMANDS"]

MEMBER_STATUSES = ("probationary", "full", "suspended", "expelled", "resigned", "deceased")


def tz_option() -> Callable:
    return click.option("--tz", "tz", envvar="MINUTEBOOK_TZ", default=None, metavar="ZONE",
                        help="Display zone (IANA name) for times shown and typed without an offset "
                             "[default: $MINUTEBOOK_TZ or Asia/Ho_Chi_Minh].")


def _zone(tz: str | None):
    from ledger.timefmt import zone

    return zone(tz)


def _time_option(name: str, help_text: str) -> Callable:
    return click.option(name, metavar="TIME", help=f"{help_text}: 2026-01-01, 2026-01-01T08:00+07:00 or unix ms.")


def _parse(value: str | None, field: str, tz: str | None) -> int | None:
    from ledger.timefmt import parse_time

    return None if value is None else parse_time(value, field, tz=_zone(tz))


def _date(ms: int | None, tz: str | None) -> str:
    from ledger.timefmt import format_date

    return NONE if ms is None else format_date(ms, _zone(tz))


def _when(ms: int | None, tz: str | None) -> str:
    from ledger.timefmt import format_time

    return NONE if ms is None else format_time(ms, _zone(tz))


# -- stats -------------------------------------------------------------------------------------


def _rows(f: dict) -> list[tuple[str, str]]:
    """The summary lines of one set of figures (views/stats.py has the definitions)."""
    m, a, v, o = f["meetings"], f["attendance"], f["votes"], f["opinions"]
    roll, listed = a["roll"], a["listed"]
    changes = ", ".join(f"{k} {n}" for k, n in f["member_status_changes"].items() if n) or "none"
    return [
        ("units (cells / committees)", f"{f['units']['total']} ({f['units']['cells']} / {f['units']['committees']})"),
        ("meetings held", f"{m['held']} (regular {m['regular']}, thematic {m['thematic']}, "
                          f"extraordinary {m['extraordinary']})"),
        ("on time / late / unscheduled", f"{m['on_time']} / {m['late']} / {m['unscheduled']}"),
        ("unit-months with a regular meeting", str(m["units_with_regular_meeting"])),
        ("overdue cells / committees", f"{f['overdue']['cells']} / {f['overdue']['committees']}"),
        ("attendance against the roll", f"{percent(roll['present'], roll['members'])} "
                                        f"({roll['present']} of {roll['members']})"),
        ("attendance against the list", f"{percent(listed['present'], listed['listed'])} "
                                        f"({listed['present']} of {listed['listed']})"),
        ("minutes leaving out roll members", f"{a['minutes_leaving_out_roll_members']} "
                                             f"({a['roll_members_left_out']} members left out)"),
        ("opinions per meeting", f"{ratio(o['total'], m['held'])} ({o['total']} opinions)"),
        ("vote participation", f"{percent(v['ballots'], v['eligible'])} ({v['ballots']} of {v['eligible']} "
                               f"eligible, {v['motions']} votes)"),
        ("resolutions adopted", str(f["resolutions"]["adopted"])),
        *([("inspection findings", ", ".join(f"{k} {n}" for k, n in f["inspection_findings"].items()))]
          if "inspection_findings" in f else []),
        ("member status changes", changes),
    ]


def _row_cells(f: dict, *, overdue: bool = True) -> list[str]:
    m, a, v = f["meetings"], f["attendance"], f["votes"]
    first = [str(m["held"]), f"{m['on_time']}/{m['late']}"]
    if overdue:
        first.append(f"{f['overdue']['cells']}/{f['overdue']['committees']}")
    return first + [
            percent(a["roll"]["present"], a["roll"]["members"]), percent(a["listed"]["present"], a["listed"]["listed"]),
            ratio(f["opinions"]["total"], m["held"]), percent(v["ballots"], v["eligible"]),
            str(sum(f["inspection_findings"].values())) if "inspection_findings" in f else NONE]


_ROW_COLUMNS = ("mtgs", "on time/late", "overdue c/k", "att. roll", "att. list", "opin./mtg", "voting", "findings")


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("org")
@_time_option("--since", "Start of the period [default: the start of the month five months before --until's]")
@_time_option("--until", "End of the period [default: now]")
@click.option("--by", type=click.Choice(["month"]), help="Also show every figure per calendar month.")
@click.option("--json", "as_json", is_flag=True, help="Print the node's JSON answer instead of tables.")
@tz_option()
@node_option()
@key_option()
@cli_errors
def stats(org: str, since: str | None, until: str | None, by: str | None, as_json: bool, tz: str | None,
          node: str, key_path: str | None) -> None:
    """Meeting figures of an org unit, rolled up over its sub-units.

    Meetings held and on time, attendance against the unit's roll on the
    meeting date and against the minutes' own list, minutes that leave roll
    members out, vote participation over eligible members, opinions per
    meeting, resolutions, findings by severity, status changes, and overdue
    cells and committees with their last regular meeting (counted at the
    earlier of --until and now). One row per sub-unit plus one for the unit's
    own records; the rows add up to the totals. Figures are per calendar
    month in the chain's time zone, so a period covers whole months.
    Findings and discipline counts are shown to inspectors only.

    \b
    Example:
      minutebook stats central/p1 --since 2026-01-01 --until 2026-06-30 --by month \\
          --key devnet/keys/members/m0004.json
    """
    from rich.console import Console
    from rich.table import Table

    from .sdk import Client

    _zone(tz)
    since_ms, until_ms = _parse(since, "since", tz), _parse(until, "until", tz)
    if since_ms is not None and until_ms is not None and since_ms > until_ms:
        raise fail(f"--since {since} is after --until {until}", EXIT_INPUT)
    with Client(node, key=request_key(key_path)) as client:
        data = client.stats(org, since=since_ms, until=until_ms, by=by)
    if as_json:
        echo_json(data)
        return
    console = Console()
    months = data["months"]
    summary = Table(title=f"{data.get('name') or org} ({data['unit']}), {months['first']} to {months['last']} "
                          f"({months['count']} months, {data['time_zone']})", show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    for label, value in _rows(data):
        summary.add_row(label, value)
    console.print(summary)
    table = Table(title="rows: sub-units rolled up, and the unit's own records")
    table.add_column("unit")
    for col in _ROW_COLUMNS:
        table.add_column(col, justify="right")
    for row in data["children"]:
        label = f"{row.get('name') or row['path']} (own)" if row["own"] else (row.get("name") or row["path"])
        table.add_row(label, *_row_cells(row))
    console.print(table)
    for kind in ("cells", "committees"):
        overdue = data["overdue_units"][kind]
        if overdue:
            listing = Table(title=f"overdue {kind} at {_date(data['as_of'], tz)} (no regular meeting in "
                                  f"{data['definitions']['overdue_after_ms'] // 86_400_000} days)")
            listing.add_column("unit")
            listing.add_column("last regular meeting")
            for item in overdue:
                listing.add_row(item.get("name") or item["path"], _date(item["last_regular_meeting"], tz))
            console.print(listing)
    if data.get("series"):
        series = Table(title="per month")
        series.add_column("month")
        for col in _ROW_COLUMNS[:2] + _ROW_COLUMNS[3:]:
            series.add_column(col, justify="right")
        for month in data["series"]:
            series.add_row(month["month"], *_row_cells(month, overdue=False))
        console.print(series)


# -- member ------------------------------------------------------------------------------------


def _pages(fetch: Callable[[str | None], dict], key: str, every: bool) -> Iterator[dict]:
    """Items of one page, or of every page when `every`."""
    cursor = None
    while True:
        page = fetch(cursor)
        yield from page[key]
        cursor = page.get("next_cursor")
        if not every or cursor is None:
            return


def _entry_text(entry: dict) -> str:
    kind = entry["kind"]
    if kind == "status":
        return f"{entry['change']} ({entry.get('reason') or ''})" + (f" -> {entry['to_org']}" if "to_org" in entry else "")
    if kind == "profile":
        return f"{entry.get('entry')}: {entry.get('title')}" + (f", {entry['institution']}" if "institution" in entry else "")
    if kind == "attendance":
        state = "present" if entry["present"] else "absent" + (f" ({entry['reason']})" if entry.get("reason") else "")
        return f"{entry.get('meeting_kind')} meeting {entry.get('meeting_id')}: {state}"
    if kind == "opinion":
        return f"opinion on {entry.get('topic')}: {entry.get('summary')}"
    if kind == "finding":
        return f"finding {entry.get('inspection_id')} ({entry.get('severity')})"
    return kind


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("member_id")
@click.option("--all", "every", is_flag=True, help="Fetch the whole timeline, page after page.")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True, help="Timeline entries per page.")
@click.option("--cursor", help="Start after this point (next_cursor of an earlier page).")
@click.option("--json", "as_json", is_flag=True, help="Print the node's JSON answer (with --all: every page's "
                                                      "entries in one timeline).")
@tz_option()
@node_option()
@key_option()
@cli_errors
def member(member_id: str, every: bool, limit: int, cursor: str | None, as_json: bool, tz: str | None,
           node: str, key_path: str | None) -> None:
    """A member's profile and timeline.

    Identity, unit, status, roles and keys, then one timeline in date order
    of every status change, profile entry (training, education, ...),
    attendance (present, or absent with the reason), opinion and finding
    about the member, each with the document it comes from.

    \b
    Example:
      minutebook member m0042 --all --key devnet/keys/members/m0001.json
    """
    from rich.console import Console
    from rich.table import Table

    from .sdk import Client

    _zone(tz)
    with Client(node, key=request_key(key_path)) as client:
        first = client.member(member_id, cursor=cursor, limit=limit)
        entries = list(first["timeline"])
        next_cursor = first["next_cursor"]
        while every and next_cursor:
            page = client.member(member_id, cursor=next_cursor, limit=limit)
            entries += page["timeline"]
            next_cursor = page["next_cursor"]
    if as_json:
        echo_json(dict(first, timeline=entries, next_cursor=next_cursor))
        return
    m = first["member"]
    console = Console()
    info = Table(title=f"{m.get('name') or m['member_id']} ({m['member_id']})", show_header=False)
    info.add_column(style="bold")
    info.add_column()
    info.add_row("unit", m["unit"])
    info.add_row("status", m["status"])
    info.add_row("roles", ", ".join(f"{r['role']} of {r['unit']}" for r in m["roles"]) or NONE)
    for key in m["keys"]:
        revoked = f", revoked {_when(key['revoked_at'], tz)}" if key["revoked_at"] is not None else ""
        info.add_row("key", f"{key['public_key']} (added {_when(key['added_at'], tz)}{revoked})")
    console.print(info)
    timeline = Table(title="timeline")
    for col in ("date", "what", "unit", "document"):
        timeline.add_column(col)
    for entry in entries:
        timeline.add_row(_date(entry["date"], tz), _entry_text(entry), entry.get("org", ""), entry["doc_id"][:16])
    console.print(timeline)
    if next_cursor:
        click.echo(f"more: --cursor {next_cursor} (or --all)")


# -- list --------------------------------------------------------------------------------------


@click.group("list")
def list_group() -> None:
    """List a unit's documents or members, or a member's documents, page by page.

    \b
    Example:
      minutebook list documents central/p1/k1/s1 --type minutes --since 2026-01-01 \\
          --key devnet/keys/members/m0010.json
    """


@list_group.command("documents", epilog=EXIT_CODES_HELP)
@click.argument("org", required=False)
@click.option("--member", "member_id", metavar="ID", help="A member's documents instead of a unit's.")
@click.option("--type", "doc_type", metavar="TYPE", help="Only this type (minutes, resolution, ...).")
@_time_option("--since", "Records dated at or after")
@_time_option("--until", "Records dated at or before")
@click.option("--newest-first", is_flag=True, help="Newest first (default: oldest first).")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True, help="Items per page.")
@click.option("--cursor", help="Start after this point (next_cursor of an earlier page).")
@click.option("--all", "every", is_flag=True, help="Every page, not just the first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
@tz_option()
@node_option()
@key_option()
@cli_errors
def list_documents(org: str | None, member_id: str | None, doc_type: str | None, since: str | None,
                   until: str | None, newest_first: bool, limit: int, cursor: str | None, every: bool,
                   as_json: bool, tz: str | None, node: str, key_path: str | None) -> None:
    """A unit's records (or a member's, with --member), by their own date.

    The date is held_at for minutes, adopted_at for resolutions, effective_at
    for status changes, else when the document was made. Only current
    versions are listed (an amended record shows its amendment's id).

    \b
    Example:
      minutebook list documents central/p1/k1/s1 --type minutes --since 2026-01-01 --all \\
          --key devnet/keys/members/m0010.json
      minutebook list documents --member m0042 --key devnet/keys/members/m0010.json
    """
    from .sdk import Client

    if bool(org) == bool(member_id):
        raise fail("give a unit (ORG) or --member ID, not both", EXIT_INPUT)
    _zone(tz)
    query = {"type": doc_type, "since": _parse(since, "since", tz), "until": _parse(until, "until", tz),
             "limit": limit, "order": "desc" if newest_first else "asc"}
    with Client(node, key=request_key(key_path)) as client:
        def fetch(at: str | None) -> dict:
            if member_id:
                return client.member_documents(member_id, cursor=at or cursor, **query)
            return client.unit_documents(org, cursor=at or cursor, **query)

        _print_items(_pages(fetch, "items", every), as_json, ("date", "type", "unit", "what", "document"),
                     lambda i: (_date(i["date"], tz), i["type"], i["unit"], _summary_text(i), i["doc_id"][:16]))


@list_group.command("members", epilog=EXIT_CODES_HELP)
@click.argument("org")
@click.option("--status", type=click.Choice(MEMBER_STATUSES), help="Only members with this status.")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True, help="Items per page.")
@click.option("--cursor", help="Start after this point (next_cursor of an earlier page).")
@click.option("--all", "every", is_flag=True, help="Every page, not just the first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
@node_option()
@key_option()
@cli_errors
def list_members(org: str, status: str | None, limit: int, cursor: str | None, every: bool, as_json: bool,
                 node: str, key_path: str | None) -> None:
    """A unit's own members now (not its sub-units'), by status then member id.

    \b
    Example:
      minutebook list members central/p1/k1/s1 --status probationary --key devnet/keys/members/m0010.json
    """
    from .sdk import Client

    with Client(node, key=request_key(key_path)) as client:
        def fetch(at: str | None) -> dict:
            return client.unit_members(org, status=status, cursor=at or cursor, limit=limit)

        _print_items(_pages(fetch, "items", every), as_json, ("member", "name", "status"),
                     lambda i: (i["member_id"], i.get("name") or "", i["status"]))


def _summary_text(item: dict) -> str:
    s = item["summary"]
    return " ".join(str(s[k]) for k in ("meeting_id", "number", "title", "inspection_id", "severity", "member",
                                         "change", "kind") if k in s)


def _print_items(items: Iterator[dict], as_json: bool, columns: tuple[str, ...],
                 cells: Callable[[dict], tuple]) -> None:
    import json

    if as_json:
        for item in items:
            click.echo(json.dumps(item, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in columns:
        table.add_column(col)
    for item in items:
        table.add_row(*cells(item))
    Console().print(table)


# -- views rebuild -----------------------------------------------------------------------------


@click.group("views")
def views_group() -> None:
    """The node's read models (views/): rebuild them from the blocks.

    \b
    Example:
      minutebook views rebuild --config devnet/nodes/n1.toml
    """


@views_group.command("rebuild", epilog=EXIT_CODES_HELP)
@click.option("--data-dir", type=click.Path(file_okay=False, exists=True), help="The stopped node's data_dir.")
@click.option("--genesis", "genesis_path", type=click.Path(dir_okay=False, exists=True),
              help="genesis.json of the node's ledger (the views start from it).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="The node's node.toml instead of --data-dir and --genesis.")
@cli_errors
def views_rebuild(data_dir: str | None, genesis_path: str | None, config_path: str | None) -> None:
    """Delete a stopped node's views and replay every block into them, with a progress bar.

    The result is byte for byte what applying the blocks one by one made
    (the node does this by itself when it finds views of another format or
    behind its ledger; this command is for doing it on purpose, offline).

    \b
    Example:
      minutebook views rebuild --data-dir devnet/data/n1 --genesis devnet/genesis.json
    """
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ledger.ledger import Ledger
    from ledger.store import LevelDBStore
    from views import Trail, Views

    if config_path:
        from node.config import load_config

        config = load_config(config_path)
        data_dir, genesis_path = str(config.data_dir), str(config.genesis)
    if not data_dir or not genesis_path:
        raise fail("give --config, or both --data-dir and --genesis", EXIT_INPUT)
    store_path = Path(data_dir) / "ledger"
    if not store_path.is_dir():
        raise fail(f"no ledger store at {store_path} (is --data-dir the node's data_dir?)", EXIT_INPUT)
    try:
        genesis = json.loads(Path(genesis_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read genesis {genesis_path}: {exc}", EXIT_INPUT) from None
    store = LevelDBStore(str(store_path), create_if_missing=False)
    try:
        ledger = Ledger(store, genesis)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("blocks"), TimeRemainingColumn()) as progress:
            task = progress.add_task("views rebuild", total=ledger.height)
            trailing = progress.add_task("trailing views", total=ledger.height)
            views = Views(progress=lambda done, total: progress.update(task, completed=done),
                          trail=Trail(progress=lambda done, total: progress.update(trailing, completed=done)))
            views.attach(ledger)
            views.rebuild()
            progress.update(task, completed=ledger.height)
            progress.update(trailing, completed=ledger.height)
        click.echo(f"views rebuilt to height {views.height()} (trailing views: {views.trail.height()}) in "
                   f"{store_path}")
    finally:
        store.close()


COMMANDS = [stats, member, list_group, views_group]
