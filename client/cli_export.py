"""`minutebook export`: documents and monthly figures as Parquet or CSV for
analysts (the tables are described in client/export.py and the README)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from .cli_common import EXIT_CODES_HELP, EXIT_INPUT, cli_errors, fail, key_option, node_option, progress_bar, \
    request_key, tz_option
from .export import FORMATS

__all__ = ["export", "COMMANDS"]

MANIFEST = "export.json"


def _prepare(out: Path) -> dict | None:
    """The previous export's manifest in `out`, if any; refuses a folder holding something else."""
    if not out.exists():
        out.mkdir(parents=True)
        return None
    if not out.is_dir():
        raise fail(f"--out: {out} is not a folder", EXIT_INPUT)
    manifest = out / MANIFEST
    if manifest.exists():
        try:
            return json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError:
            raise fail(f"{manifest} is damaged; remove the folder or choose another --out", EXIT_INPUT) from None
    if any(out.iterdir()):
        raise fail(f"--out: {out} holds other files (no {MANIFEST}); choose an empty or new folder", EXIT_INPUT)
    return None


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False),
              help="Folder for the tables (one file per table) and export.json.")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="parquet", show_default=True)
@node_option()
@click.option("--org", metavar="PATH", help="Only this unit's subtree [default: the whole ledger].")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only these document types (repeat) [default: all].")
@click.option("--from-height", default=0, show_default=True, type=click.IntRange(0),
              help="Documents of blocks after this height only (continue an earlier export).")
@click.option("--monthly/--no-monthly", default=True, show_default=True,
              help="Also export the monthly figures of every unit of the subtree.")
@click.option("--since", metavar="TIME", help="First month of the monthly figures (ISO date or unix ms).")
@click.option("--until", metavar="TIME", help="Last month of the monthly figures [default: now].")
@click.option("--depth", type=click.IntRange(0), help="Monthly figures down to this many levels below --org "
                                                      "[default: every unit].")
@tz_option("Time zone of times in CSV files (Parquet times are UTC timestamps)")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@key_option()
@cli_errors
def export(out: str, fmt: str, node: str, org: str | None, types: tuple[str, ...], from_height: int, monthly: bool,
           since: str | None, until: str | None, depth: int | None, tz: str | None, quiet: bool,
           key_path: str | None) -> None:
    """Export documents (one table per type) and monthly figures for analysts.

    Reads every block of the node (and, for the monthly figures, one stats
    query per unit) and writes, in OUT: one table per document type
    (minutes, resolution, member_status, ...), a child table per list of
    items (minutes_attendees, minutes_votes, resolution_tasks, ...), monthly
    (one row per unit and month), and export.json (the height and tree head
    the export reflects, each table's rows). Query them with DuckDB:

    \b
      duckdb -c "SELECT org, count(*) FROM 'out/minutes.parquet' GROUP BY org"

    Block envelopes are read by auditors and operators: sign with such a key
    (--key; a node key reads everything). The monthly figures are those your
    key's scope shows.

    \b
    Example:
      minutebook export --out export-2026 --key keys/auditor.json --node http://127.0.0.1:8101
    """
    from ledger.timefmt import default_zone_name, zone

    from .export import DocumentRows, export_documents, export_monthly
    from .sdk import Client

    out_dir = Path(out)
    previous = _prepare(out_dir)
    zone_name = tz or default_zone_name()
    tzinfo = zone(zone_name)
    with Client(node, timeout=60, retries=8, key=request_key(key_path)) as client:
        head = client.tree_head()
        tip = head["height"]
        root = org or client.status().get("root_unit")
        if from_height > tip:
            raise fail(f"--from-height {from_height} is past the node's height {tip}", EXIT_INPUT)
        rows = DocumentRows(out_dir, fmt, tzinfo, types=frozenset(types) or None, org=org)
        with progress_bar("blocks", quiet=quiet) as progress:
            task = progress.add_task("blocks", total=tip - from_height, note="")
            count = export_documents(client, rows, from_height=from_height, tip=tip,
                                     advance=lambda n: progress.update(task, advance=n))
        tables = rows.close()
        if monthly and root:
            with progress_bar("monthly", quiet=quiet) as progress:
                task = progress.add_task("monthly", total=None, note="")
                tables["monthly"] = export_monthly(client, root, out_dir, fmt, tzinfo, since=since, until=until,
                                                   depth=depth, advance=lambda n: progress.update(task, advance=n))
    for name, entry in (previous or {}).get("tables", {}).items():
        if name not in tables:
            (out_dir / entry["file"]).unlink(missing_ok=True)
    manifest = {"format": fmt, "node": node, "height": tip, "log_size": head.get("log_size"),
                "log_root": head.get("log_root"), "block_hash": head.get("block_hash"), "from_height": from_height,
                "org": org, "types": sorted(types) or None, "time_zone": zone_name,
                "exported_at": int(time.time() * 1000), "tables": tables}
    from ledger.files import write_atomically

    write_atomically(out_dir / MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    click.echo(f"exported {count} documents of blocks {from_height + 1}..{tip} into {len(tables)} tables in {out}")
    for name, entry in tables.items():
        click.echo(f"  {entry['file']}: {entry['rows']} rows")


COMMANDS = [export]
