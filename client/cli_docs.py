"""`minutebook keys new | get | receipt | stats`: the commands a committee office
uses day to day (`sign`, `submit` and `outbox` are in client/cli_submit.py,
`import` in client/cli_import.py). Registered on the group in client/cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_common import (
    EXIT_CODES_HELP,
    EXIT_INPUT,
    cli_errors,
    echo_json,
    fail,
    key_option,
    node_option,
    request_key,
)

__all__ = ["keys_group", "get", "receipt", "stats", "COMMANDS"]


# -- keys ----------------------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """Make Ed25519 key files for members and nodes.

    \b
    Example:
      minutebook keys new --member-id m0042 --out keys/m0042.json --passphrase-prompt
    """


@keys_group.command("new", epilog=EXIT_CODES_HELP)
@click.option("--member-id", metavar="ID", help="Make a member's key (the id the registry knows the member by).")
@click.option("--node-id", metavar="ID", help="Make a node's key (for node.toml's key_file).")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Key file to write (mode 0600).")
@click.option("--passphrase-prompt", is_flag=True, help="Encrypt the secret key under a passphrase you type.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@cli_errors
def keys_new(member_id: str | None, node_id: str | None, out: str, passphrase_prompt: bool, force: bool) -> None:
    """Write a new key file and print its public key (base64url).

    The file is JSON {member_id | node_id, public_key, secret_key}; secret_key
    is the 32-byte Ed25519 seed, encrypted with --passphrase-prompt. Give the
    public key to your unit's secretary, who registers it with a member_key
    document.

    \b
    Example:
      minutebook keys new --member-id m0042 --out keys/m0042.json --passphrase-prompt
    """
    from ledger.jsonfmt import b64e
    from ledger.keys import generate_seed, public_key, write_key_file

    if bool(member_id) == bool(node_id):
        raise click.UsageError("give exactly one of --member-id or --node-id")
    if Path(out).exists() and not force:
        raise fail(f"{out} exists; refusing to overwrite a key (use --force if you mean it)", EXIT_INPUT)
    passphrase = None
    if passphrase_prompt:
        passphrase = click.prompt("passphrase", hide_input=True, confirmation_prompt=True)
        if not passphrase:
            raise fail("an empty passphrase protects nothing; leave out --passphrase-prompt instead", EXIT_INPUT)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    seed = generate_seed()
    id_field, ident = ("member_id", member_id) if member_id else ("node_id", node_id)
    write_key_file(out, id_field=id_field, id=ident, seed=seed, passphrase=passphrase)
    click.echo(f"wrote {out} ({id_field} {ident}{', encrypted' if passphrase else ''})")
    click.echo(f"public_key {b64e(public_key(seed))}")


# -- get / receipt ----------------------------------------------------------------


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("doc_id")
@node_option()
@key_option()
@cli_errors
def get(doc_id: str, node: str, key_path: str | None) -> None:
    """Print a document as JSON: its status, block, leaf and decoded body.

    The request is signed with --key; the node answers only within your
    scope (your unit's records; a unit's subtree for its officers).

    \b
    Example:
      minutebook get 3f9a0c...e1 --key devnet/keys/members/m0010.json --node http://127.0.0.1:8101
    """
    from .sdk import Client

    with Client(node, key=request_key(key_path)) as client:
        echo_json(client.get_document(doc_id))


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("doc_id")
@node_option()
@key_option()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the receipt to this file.")
@cli_errors
def receipt(doc_id: str, node: str, key_path: str | None, output: str | None) -> None:
    """Fetch a document's receipt (envelope, inclusion proof, certified block).

    Check it offline with `minutebook verify RECEIPT --genesis genesis.json`.

    \b
    Example:
      minutebook receipt 3f9a0c...e1 --key devnet/keys/members/m0010.json -o receipt.json
    """
    from .sdk import Client

    with Client(node, key=request_key(key_path)) as client:
        obj = client.receipt(doc_id)
    if output:
        Path(output).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {output} (leaf {obj['leaf_index']}, block {obj['block']['height']})")
    else:
        echo_json(obj)


# -- stats -------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("org")
@node_option()
@key_option()
@click.option("--json", "as_json", is_flag=True, help="Print the stats JSON instead of tables.")
@cli_errors
def stats(org: str, node: str, key_path: str | None, as_json: bool) -> None:
    """Meeting analytics for an org unit, rolled up over its sub-units.

    Meetings held (on schedule, late, unscheduled), units with no regular
    meeting in the last month, attendance, opinions per meeting, vote
    participation, inspection findings by severity, member status changes.
    The default period is the last six months.

    Findings and discipline counts are shown to inspectors only.

    \b
    Example:
      minutebook stats central/p1 --key devnet/keys/members/m0004.json --node http://127.0.0.1:8101
    """
    from rich.console import Console
    from rich.table import Table

    from .sdk import Client

    with Client(node, key=request_key(key_path)) as client:
        data = client.stats(org)
    if as_json:
        echo_json(data)
        return
    console = Console()
    from datetime import datetime, timezone

    def day(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d")

    summary = Table(title=f"{data.get('name') or org} ({org}), {day(data['since'])} to {day(data['until'])}",
                    show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    m = data["meetings"]
    summary.add_row("units", str(data["units"]))
    summary.add_row("meetings held", f"{m['held']} ({m['regular']} regular)")
    summary.add_row("on schedule / late / unscheduled", f"{m['on_schedule']} / {m['late']} / {m['unscheduled']}")
    overdue = data["overdue_units"]
    summary.add_row("units overdue (no regular meeting in the last month)",
                    f"{len(overdue)}" + (": " + ", ".join(overdue[:8]) + (" …" if len(overdue) > 8 else "") if overdue else ""))
    summary.add_row("attendance", _pct(data["attendance"]["rate"]))
    per = data["opinions"]["per_meeting"]
    summary.add_row("opinions per meeting", "–" if per is None else f"{per:.2f}")
    summary.add_row("vote participation", _pct(data["votes"]["participation"]))
    if "inspection_findings" in data:
        summary.add_row("inspection findings", ", ".join(f"{k} {v}" for k, v in data["inspection_findings"].items()))
    changes = data["member_status_changes"]
    summary.add_row("member status changes", ", ".join(f"{k} {v}" for k, v in changes.items()) or "none")
    console.print(summary)
    if data["children"]:
        table = Table(title="sub-units (rolled up)")
        for col in ("unit", "mtgs", "on time/late", "overdue", "attend.", "opin./mtg", "voting", "findings"):
            table.add_column(col, justify="left" if col == "unit" else "right")
        for c in data["children"]:
            per = c["opinions"]["per_meeting"]
            table.add_row(c.get("name") or c["path"], str(c["meetings"]["held"]),
                          f"{c['meetings']['on_schedule']}/{c['meetings']['late']}", str(len(c["overdue_units"])),
                          _pct(c["attendance"]["rate"]), "–" if per is None else f"{per:.2f}",
                          _pct(c["votes"]["participation"]),
                          str(sum(c["inspection_findings"].values())) if "inspection_findings" in c else "–")
        console.print(table)


COMMANDS = [keys_group, get, receipt, stats]
