"""`minutebook keys new | submit | get | receipt | stats | import`: the commands a
committee office uses day to day. Registered on the group in client/cli.py."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from .cli_common import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INPUT,
    cli_errors,
    echo_json,
    fail,
    key_option,
    load_document_file,
    load_document_text,
    load_keys,
    node_option,
    parse_document_text,
    request_key,
    tz_option,
)

__all__ = ["keys_group", "submit", "get", "receipt", "stats", "import_", "COMMANDS"]


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


# -- submit / get / receipt ----------------------------------------------------


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--key", "-k", "keys", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="A signer's key file; repeat for each signer (minutes need the chair and the secretary).")
@node_option()
@click.option("--wait", is_flag=True, help="Wait until committed and certified, then print the receipt JSON.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait with --wait.")
@click.option("--confidential", is_flag=True,
              help="Keep only a salted commitment of the body on the ledger and seal the body to the --to members.")
@click.option("--to", "recipients", metavar="IDS",
              help="With --confidential: the recipients, comma-separated member ids (e.g. m0012,m0020).")
@tz_option()
@cli_errors
def submit(file: str, keys: tuple[str, ...], node: str, wait: bool, timeout: float, confidential: bool,
           recipients: str | None, tz: str | None) -> None:
    """Sign a YAML or JSON document with each key and submit it.

    FILE holds {type, org, body, refs?}; v, nonce and created_at are filled in
    when missing, and text is normalised to Unicode NFC before signing. Times
    may be written as ISO 8601 (2026-11-20, 2026-11-20T19:00,
    2026-11-20T19:00+07:00) or unix ms; without an offset they are read in
    the --tz zone. Prints the document id; with --wait, prints the receipt
    JSON (save it and check it with `minutebook verify`). A document already
    committed is reported as such; another document recording the same act
    (the same meeting's minutes, a resolution number used before) is refused
    with the id of the record to amend instead.

    With --confidential (minutes, resolutions, findings) the ledger keeps only
    the body's salted commitment, the recipients and the file's optional
    top-level `meta` (public facts such as the meeting's kind and date); the
    body and salt are sealed to every registered key of each --to member
    (libsodium sealed boxes) and kept beside the ledger, for them alone
    (`minutebook open`). The first --key also signs the request that fetches
    the recipients' keys.

    \b
    Examples:
      minutebook submit minutes.yaml --key keys/chair.json --key keys/secretary.json \\
          --node http://127.0.0.1:8101 --wait > receipt.json
      minutebook submit discipline.yaml --key keys/secretary.json --confidential --to m0012,m0020 --wait
    """
    from .docinput import normalise_document
    from .sdk import Client, sign_confidential, sign_document

    raw = load_document_text(sys.stdin.read(), "stdin") if file == "-" else load_document_file(file)
    signers = load_keys(keys)
    if raw.get("meta") is not None and not confidential:
        raise fail("meta: only a confidential document has meta (add --confidential)", EXIT_INPUT)
    if confidential != bool(recipients):
        raise click.UsageError("--confidential and --to go together (the recipients of the sealed body)")
    with Client(node, timeout=max(timeout + 10, 30), key=signers[0]) as client:
        doc = normalise_document(raw, tz, amended_type=_amended_type(client, raw))
        meta = doc.pop("meta", None)
        if confidential:
            to = [r.strip() for r in recipients.split(",") if r.strip()]
            try:
                envelope = sign_confidential(doc, signers, client.recipient_keys(to), meta=meta)
            except ValueError as exc:
                raise fail(str(exc), EXIT_FAILED) from None
        else:
            envelope = sign_document(doc, signers)
        result = client.submit(envelope, wait=wait, timeout=timeout)
    if wait:
        echo_json(result["receipt"])
        if result["status"] == "already_committed":
            click.echo(f"note: {result['doc_id']} was already committed; this is its receipt", err=True)
    else:
        note = " (already committed)" if result["status"] == "already_committed" else ""
        click.echo(f"{result['doc_id']} {result['status']}{note}")


def _amended_type(client, doc: dict) -> str | None:
    """For an amendment that replaces a body, the type of its target (asked of
    the node), so the replacement's times are read by that type's schema."""
    from . import errors as api_errors

    body = doc.get("body") if doc.get("type") == "amendment" else None
    if not isinstance(body, dict) or not isinstance(body.get("body"), dict) or not isinstance(body.get("target"), str):
        return None
    try:
        return client.get_document(body["target"])["doc"]["type"]
    except (api_errors.SdkError, KeyError, TypeError):
        return None  # the node will name what is wrong with the target


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


# -- import ------------------------------------------------------------------


def _import_record(line: str, lineno: int, base: Path, default_keys: list, key_cache: dict) -> bytes:
    """The envelope bytes for one JSONL line (see `import` help)."""
    from ledger.jsonfmt import b64d

    from .sdk import sign_document

    where = f"line {lineno}"
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise fail(f"{where}: not valid JSON: {exc}", EXIT_INPUT) from None
    if not isinstance(obj, dict):
        raise fail(f"{where}: expected a JSON object", EXIT_INPUT)
    if "envelope" in obj:
        return b64d(obj["envelope"], f"{where}: envelope")
    key_paths = obj.pop("keys", None)
    doc = parse_document_text(json.dumps(obj), "line.json")
    if "created_at" not in doc:
        raise fail(f"{where}: created_at: required for import (unix ms), so that a re-run makes the same "
                   "document and skips it", EXIT_INPUT)
    if "nonce" not in doc:
        # Deterministic, so a resumed import rebuilds the very same document id.
        doc["nonce"] = hashlib.sha256(b"minutebook/import-nonce\0" + line.strip().encode()).digest()[:16]
    if key_paths:
        keys = []
        for p in key_paths:
            path = str((base / p) if not Path(p).is_absolute() else Path(p))
            if path not in key_cache:
                key_cache[path] = load_keys((path,))[0]
            keys.append(key_cache[path])
    else:
        keys = default_keys
    if not keys:
        raise fail(f"{where}: no keys: give --key, or \"keys\": [key files] in the record", EXIT_INPUT)
    return sign_document(doc, keys)


@click.command("import", epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "-k", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="Key file to sign every record with (repeat per signer); a record's own \"keys\" overrides.")
@node_option()
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Records in flight. Keep 1 when later records depend on earlier ones (admit before grant).")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for each record's commit.")
@cli_errors
def import_(file: str, keys: tuple[str, ...], node: str, concurrency: int, timeout: float) -> None:
    """Bulk-load digitised records from a JSONL file, with a progress bar.

    One record per line: a document {type, org, body, refs?, created_at,
    nonce?, keys?} (signed here with --key, or with the key files listed in
    "keys", relative to FILE), or {"envelope": "<base64url>"} already signed.
    Each record is committed before the next (with --concurrency N, N at a
    time). Resumable: a record's nonce, when absent, is derived from the line
    itself, so running the import again rebuilds the same documents and skips
    those already committed. A record that is malformed or refused by the
    node is listed (by line) and the import goes on; then it exits 1.

    \b
    Example:
      minutebook import archive-2019.jsonl --key keys/secretary.json --node http://127.0.0.1:8101
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from . import errors as api_errors
    from .sdk import Client

    path = Path(file)
    lines = [(i + 1, line) for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()) if line.strip()]
    default_keys = load_keys(keys)
    key_cache: dict = {}
    key_lock = threading.Lock()
    counts = {"committed": 0, "already_committed": 0, "refused": 0}
    refused: list[str] = []
    lock = threading.Lock()
    with Client(node, timeout=timeout + 10) as client, Progress(
        TextColumn("[bold]import"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
        TimeRemainingColumn(), transient=False,
    ) as progress:
        task = progress.add_task("import", total=len(lines), note="")

        def one(item: tuple[int, str]) -> None:
            from ledger.errors import MinutebookError

            lineno, line = item
            try:
                with key_lock:  # key files may prompt for a passphrase: one at a time
                    envelope = _import_record(line, lineno, path.parent, default_keys, key_cache)
            except (click.ClickException, MinutebookError) as exc:
                text = exc.format_message() if isinstance(exc, click.ClickException) else exc.message
                with lock:
                    refused.append(text if text.startswith("line ") else f"line {lineno}: {text}")
                    counts["refused"] += 1
                    progress.update(task, advance=1, note=f"{counts['already_committed']} skipped, "
                                                          f"{counts['refused']} refused")
                return
            try:
                result = client.submit(envelope, wait=True, timeout=timeout)
                kind = result["status"] if result["status"] == "already_committed" else "committed"
            except (api_errors.BadSignatureError, api_errors.NotPermittedError, api_errors.RejectedError,
                    api_errors.MalformedRequest, api_errors.TooLargeError) as exc:
                kind = "refused"
                with lock:
                    refused.append(f"line {lineno}: {exc.message}" + (f" [{exc.field}]" if exc.field else ""))
            with lock:
                counts[kind] += 1
                progress.update(task, advance=1, note=f"{counts['already_committed']} skipped, "
                                                      f"{counts['refused']} refused")

        pool = ThreadPoolExecutor(max_workers=concurrency)
        try:
            list(pool.map(one, lines))
        finally:  # on Ctrl-C: drop what is queued (a re-run resumes), let those in flight finish
            pool.shutdown(wait=True, cancel_futures=True)
    click.echo(f"{counts['committed']} committed, {counts['already_committed']} already committed (skipped), "
               f"{counts['refused']} refused")
    for line in sorted(refused, key=lambda s: int(s.split()[1].rstrip(":"))):
        click.echo(f"  {line}", err=True)
    if refused:
        raise SystemExit(EXIT_FAILED)


COMMANDS = [keys_group, submit, get, receipt, stats, import_]
