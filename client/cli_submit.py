"""`minutebook sign | submit | outbox list | outbox push | outbox drop`: signing and
sending that survive a poor connection. Registered on the group in client/cli.py.

Everything signed here is kept in an outbox (client/outbox.py) before it is
sent, and every retry sends those same bytes, so running a command again can
never record a meeting twice.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cli_common import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_UNREACHABLE,
    cli_errors,
    describe_api_error,
    echo_json,
    fail,
    load_document_file,
    load_document_text,
    load_keys,
    node_option,
    progress_bar,
    tz_option,
)

__all__ = ["sign", "submit", "outbox", "COMMANDS"]

_OUTBOX_HELP = ("Outbox folder that keeps what is signed until its receipt is held "
                "[default: $MINUTEBOOK_OUTBOX, else minutebook-outbox/ beside FILE].")


def _read_input(file: str) -> tuple[dict | None, bytes | None, str | None]:
    """(document as loaded, None, source) for a document file, (None, envelope bytes, source)
    for a signed envelope file ``{"envelope": "<base64url>"}`` (what `sign -o` writes)."""
    from ledger.jsonfmt import b64d

    if file == "-":
        obj, source = load_document_text(sys.stdin.read(), "stdin"), None
    else:
        obj, source = load_document_file(file), str(Path(file).resolve())
    if set(obj) == {"envelope"}:
        return None, b64d(obj["envelope"], "envelope"), source
    return obj, None, source


def _document(raw: dict, tz: str | None, client=None) -> dict:
    """The document to sign: its times read by client/docinput.py (for an amendment that
    replaces a body, by its target's type, asked of the node when one is given)."""
    from .docinput import normalise_document

    return normalise_document(raw, tz, amended_type=_amended_type(client, raw) if client is not None else None)


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


def _entry_for(outbox, doc: dict | None, envelope: bytes | None, keys: list, source: str | None,
               seal=None, sealed_for: dict | None = None):
    """The outbox entry to send: the one kept for this intent, else a new signature (or, with
    `seal`, a sealed submission), kept (fsynced) before returning. Returns (entry, reused)."""
    from .outbox import intent_of
    from .sdk import sign_document

    if envelope is not None:
        if keys:
            raise fail("FILE is a signed envelope already; leave out --key", EXIT_INPUT)
        from ledger.documents import Envelope

        doc_id = Envelope.from_bytes(envelope).doc_id
        existing = outbox.get(doc_id)
        return (existing, True) if existing else (outbox.keep(envelope, intent=doc_id, source=source), False)
    if not keys:
        raise fail("--key: give at least one signer's key file (minutes need the chair and the secretary)",
                   EXIT_INPUT)
    intent = intent_of({**doc, "sealed_for": sealed_for} if sealed_for else doc, [k.public_key for k in keys])
    existing = outbox.find(intent)
    if existing is not None:
        return existing, True
    if source is not None:
        others = outbox.unsettled_from(source, intent)
        if others:
            raise fail(f"{Path(source).name} changed since it was signed as {others[0].doc_id[:16]}…, which is "
                       f"still pending in {outbox.path} (it may yet be committed, and a second version could "
                       "record it twice): run `minutebook outbox push` to settle it first (then amend the record "
                       f"if it needs a correction), or `minutebook outbox drop {others[0].doc_id[:16]}` if it "
                       "surely never reached a node", EXIT_FAILED)
    entry = outbox.keep(seal(doc) if seal else sign_document(doc, keys), intent=intent, source=source)
    return entry, False


def _format_ms(ms: int) -> str:
    from ledger.timefmt import format_time

    return format_time(ms)


# -- sign ----------------------------------------------------------------------


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--key", "-k", "keys", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="A signer's key file; repeat for each signer (minutes need the chair and the secretary).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the signed envelope to this file ('-': standard output) instead of the outbox.")
@click.option("--outbox", "outbox_path", type=click.Path(file_okay=False), help=_OUTBOX_HELP)
@click.option("--force", is_flag=True, help="With -o: overwrite an existing file.")
@tz_option()
@cli_errors
def sign(file: str, keys: tuple[str, ...], output: str | None, outbox_path: str | None, force: bool,
         tz: str | None) -> None:
    """Sign a YAML or JSON document, with no node needed.

    Without -o the envelope goes to the outbox, to be sent when the network is
    back with `minutebook outbox push` (or `minutebook submit FILE` with the
    same keys, which finds it there and sends those bytes). Signing the same
    file with the same keys again gives the envelope already kept.

    With -o the envelope is written to OUT as JSON {"envelope": "<base64url>"}
    (the body POST /v1/documents takes) to carry elsewhere; send it with
    `minutebook submit OUT`. Each such run signs afresh: keep one OUT per record.

    \b
    Example:
      minutebook sign minutes.yaml --key keys/chair.json --key keys/secretary.json
      minutebook outbox push            # later, when the network is back
    """
    from ledger.files import write_atomically
    from ledger.jsonfmt import b64e

    from .outbox import Outbox, outbox_dir
    from .sdk import sign_document

    raw, envelope, source = _read_input(file)
    if envelope is not None:
        raise fail(f"{file} is a signed envelope already", EXIT_INPUT)
    doc = _document(raw, tz)
    loaded = load_keys(keys)
    if output is not None:
        data = sign_document(doc, loaded)
        text = json.dumps({"envelope": b64e(data)}) + "\n"
        from ledger.documents import Envelope

        doc_id = Envelope.from_bytes(data).doc_id
        if output == "-":
            click.echo(text, nl=False)
        else:
            if Path(output).exists() and not force:
                raise fail(f"{output} exists; refusing to replace a signed envelope (use --force if you mean it)",
                           EXIT_INPUT)
            write_atomically(output, text.encode("utf-8"))
            click.echo(f"signed {doc_id} ({doc['type']} of {doc.get('org')}) into {output}")
        return
    outbox = Outbox(outbox_dir(outbox_path, source))
    entry, reused = _entry_for(outbox, doc, None, loaded, source)
    if reused:
        click.echo(f"{entry.doc_id} is already in {outbox.path} ({entry.state}, signed {_format_ms(entry.signed_at)})")
    else:
        click.echo(f"signed {entry.doc_id} ({entry.type} of {entry.org}, by {', '.join(entry.signers)})")
        click.echo(f"kept in {outbox.path}/pending/; send it with `minutebook outbox push {outbox.path}`")


# -- submit ----------------------------------------------------------------------


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--key", "-k", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="A signer's key file; repeat for each signer (minutes need the chair and the secretary).")
@node_option()
@click.option("--wait", is_flag=True, help="Wait until committed and certified, then print the receipt JSON.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait with --wait.")
@click.option("--outbox", "outbox_path", type=click.Path(file_okay=False), help=_OUTBOX_HELP)
@click.option("--confidential", is_flag=True,
              help="Keep only a salted commitment of the body on the ledger and seal the body to the --to members.")
@click.option("--to", "recipients", metavar="IDS",
              help="With --confidential: the recipients, comma-separated member ids (e.g. m0012,m0020).")
@tz_option()
@cli_errors
def submit(file: str, keys: tuple[str, ...], node: str, wait: bool, timeout: float, outbox_path: str | None,
           confidential: bool, recipients: str | None, tz: str | None) -> None:
    """Sign a YAML or JSON document with each key and submit it; safe to run again.

    FILE holds {type, org, body, refs?}; v, nonce and created_at are filled in
    when missing, and text is normalised to Unicode NFC before signing. Times
    may be written as ISO 8601 (2026-11-20, 2026-11-20T19:00,
    2026-11-20T19:00+07:00) or unix ms; without an offset they are read in
    the --tz zone. FILE may also be a signed envelope (from `minutebook sign
    -o`; no --key then). Another document recording the same act (the same
    meeting's minutes, a resolution number used before) is refused with the
    id of the record to amend instead.

    The signed envelope is kept in the outbox (fsynced) before it is sent. If
    the answer does not come (node unreachable, no leader, timed out: exit 3),
    run the same command again: it finds the envelope kept for this file and
    these keys and sends the very same bytes, so the record cannot be made
    twice; a document already committed counts as success (exit 0, with its
    receipt). Receipts are kept in the outbox's receipts/ folder too. Editing
    FILE while its earlier envelope is still pending is refused (see
    `minutebook outbox --help`).

    Prints the document id and status; with --wait, the receipt JSON (check it
    with `minutebook verify`).

    With --confidential (minutes, resolutions, findings) the ledger keeps only
    the body's salted commitment, the recipients and the file's optional
    top-level `meta` (public facts such as the meeting's kind and date); the
    body and salt are sealed to every registered key of each --to member
    (libsodium sealed boxes) and kept beside the ledger, for them alone
    (`minutebook open`). The first --key also signs the request that fetches
    the recipients' keys. The sealed submission is what the outbox keeps.

    \b
    Example:
      minutebook submit minutes.yaml --key keys/chair.json --key keys/secretary.json \\
          --node http://127.0.0.1:8101 --wait > receipt.json
    """
    from . import errors as api_errors
    from .outbox import Outbox, deliver, outbox_dir
    from .sdk import Client

    raw, envelope, source = _read_input(file)
    loaded = load_keys(keys)
    if raw is not None and raw.get("meta") is not None and not confidential:
        raise fail("meta: only a confidential document has meta (add --confidential)", EXIT_INPUT)
    if confidential != bool(recipients):
        raise click.UsageError("--confidential and --to go together (the recipients of the sealed body)")
    outbox = Outbox(outbox_dir(outbox_path, source))
    with Client(node, timeout=max(timeout + 10, 30), key=loaded[0] if loaded else None) as client:
        doc = _document(raw, tz, client) if raw is not None else None
        meta = doc.pop("meta", None) if doc is not None else None
        seal, sealed_for = None, None
        if confidential:
            from .sdk import sign_confidential

            to = [r.strip() for r in recipients.split(",") if r.strip()]
            sealed_for = {"to": to, "meta": meta}

            def sealed(d: dict) -> bytes:
                try:
                    return sign_confidential(d, loaded, client.recipient_keys(to), meta=meta)
                except ValueError as exc:
                    raise fail(str(exc), EXIT_FAILED) from None

            seal = sealed
        entry, reused = _entry_for(outbox, doc, envelope, loaded, source, seal, sealed_for)
        if reused and entry.state != "committed":
            click.echo(f"note: sending again the envelope signed {_format_ms(entry.signed_at)} ({entry.doc_id}), "
                       f"kept in {outbox.path}", err=True)
        delivery = deliver(outbox, entry, lambda data: client.submit(data, wait=wait, timeout=timeout))
    if delivery.outcome in ("committed", "already_committed"):
        if wait:
            echo_json(delivery.receipt)
            if delivery.outcome == "already_committed":
                click.echo(f"note: {entry.doc_id} was already committed; this is its receipt", err=True)
        else:
            note = " (already committed)" if delivery.outcome == "already_committed" else ""
            click.echo(f"{entry.doc_id} {delivery.outcome}{note}")
        return
    if delivery.outcome == "sent":
        click.echo(f"{entry.doc_id} pending")
        return
    exc = delivery.error
    if delivery.outcome == "refused":
        raise exc
    where = f"the signed envelope is kept in {outbox.path}/pending/; run this command again or " \
            f"`minutebook outbox push {outbox.path}` to send the same bytes"
    if isinstance(exc, api_errors.ConnectionFailed):
        raise fail(f"{exc} (is the node running? check --node); {where}", EXIT_UNREACHABLE)
    message, code = describe_api_error(exc)
    raise fail(f"{message}; {where}", code)


# -- outbox ----------------------------------------------------------------------


@click.group(epilog=EXIT_CODES_HELP)
def outbox() -> None:
    """Envelopes signed and kept until their receipt is held.

    `sign` and `submit` keep every envelope they sign in an outbox folder
    before sending it; `outbox push` sends what is pending when the network
    is back, `outbox list` shows what is there. Layout of the folder:
    pending/, committed/ and refused/ hold one JSON entry per envelope (named
    by document id); receipts/ holds the receipts. The folder is
    $MINUTEBOOK_OUTBOX, else minutebook-outbox/ beside the file signed from.

    A file edited while an envelope signed from it is pending is refused by
    `submit`: the pending one may yet be committed. Push it (then amend the
    record), or drop it if it surely never reached a node.

    \b
    Example:
      minutebook outbox list
      minutebook outbox push --node http://127.0.0.1:8101
    """


def _outbox_arg(directory: str | None):
    from .outbox import DEFAULT_DIR_NAME, Outbox, outbox_dir

    path = outbox_dir(directory, None)
    if not path.is_dir():
        raise fail(f"no outbox at {path} (give its folder, or set $MINUTEBOOK_OUTBOX; `sign` and `submit` make "
                   f"{DEFAULT_DIR_NAME}/ beside the file they sign)", EXIT_INPUT)
    return Outbox(path)


@outbox.command("list", epilog=EXIT_CODES_HELP)
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--all", "show_all", is_flag=True, help="List committed and refused entries too.")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON (without the envelope bytes).")
@cli_errors
def outbox_list(directory: str | None, show_all: bool, as_json: bool) -> None:
    """List the envelopes of an outbox: pending ones (all with --all).

    \b
    Example:
      minutebook outbox list ~/bien-ban/minutebook-outbox --all
    """
    box = _outbox_arg(directory)
    entries = box.entries()
    shown = entries if show_all else [e for e in entries if e.state == "pending"]
    if as_json:
        echo_json([{k: v for k, v in e.to_json().items() if k != "envelope"} | {"state": e.state} for e in shown])
        return
    counts = {s: sum(1 for e in entries if e.state == s) for s in ("pending", "committed", "refused")}
    click.echo(f"{box.path}: {counts['pending']} pending, {counts['committed']} committed, "
               f"{counts['refused']} refused")
    if not shown:
        return
    rows = [("state", "doc_id", "type", "org", "signed", "tries", "last answer")]
    for e in shown:
        answer = e.last_error or ""
        if e.state == "committed":
            answer = f"block {e.extra.get('height')}, {e.extra.get('receipt')}"
        elif e.state == "refused":
            answer = e.reason or ""
        elif e.sent and not answer:
            answer = "held by the node, no receipt yet"
        rows.append((e.state, e.doc_id[:16], e.type, e.org, _format_ms(e.signed_at), str(e.attempts), answer))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])


@outbox.command("push", epilog=EXIT_CODES_HELP)
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@node_option()
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for each batch's commit.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 1000),
              help="Envelopes per batch request.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@cli_errors
def outbox_push(directory: str | None, node: str, timeout: float, batch_size: int, quiet: bool) -> None:
    """Send every pending envelope, in signing order, and keep each receipt.

    Each envelope is sent as the very bytes that were signed, in batches
    (POST /v1/documents:batch) of consecutive envelopes that need nothing of
    each other (an envelope that needs an earlier one committed, such as a
    member made full after their admission, starts the next batch), waiting
    for their commit; a batch's answers are recorded before the next is sent,
    so an interrupted push resumes where it stopped. A node that answers 503
    (no leader, overloaded, busy) is waited for (Retry-After); if it still
    does after the retries, or cannot be reached at all, the push stops and
    says how many are left, all still pending. Refused envelopes are listed,
    one line each, with the node's reason, and move to refused/. Receipts go
    to receipts/.

    Exits 0 when everything is committed, 1 if any was refused, 3 if some are
    still pending (run it again).

    \b
    Example:
      minutebook outbox push ~/bien-ban/minutebook-outbox --node http://127.0.0.1:8101
    """
    from . import errors as api_errors
    from .sdk import Client

    box = _outbox_arg(directory)
    pending = box.entries("pending")
    counts = {"committed": 0, "already_committed": 0, "refused": 0, "unsettled": 0}
    refused = []
    stopped: str | None = None
    with Client(node, timeout=timeout + 10, retries=8) as client, progress_bar("push", quiet=quiet) as progress:
        task = progress.add_task("push", total=len(pending), note="")
        for batch in _push_batches(pending, batch_size):
            for delivery in _push_batch(box, batch, client, timeout):
                counts["unsettled" if delivery.outcome == "sent" else delivery.outcome] += 1
                if delivery.outcome == "refused":
                    refused.append(delivery)
                progress.update(task, advance=1, note=f"{counts['refused']} refused")
                if isinstance(delivery.error, (api_errors.ConnectionFailed, api_errors.UnavailableError)):
                    stopped = str(delivery.error)
            if stopped:
                break
    done = counts["committed"] + counts["already_committed"]
    left = len(pending) - done - counts["refused"]
    click.echo(f"{done} committed ({counts['already_committed']} were already), {counts['refused']} refused, "
               f"{left} still pending; receipts in {box.path / 'receipts'}")
    for d in refused:
        e, exc = d.entry, d.error
        field = f" [{exc.field}]" if exc.field and exc.field not in exc.message else ""
        origin = f" from {Path(e.source).name}" if e.source else ""
        click.echo(f"  refused {e.doc_id[:16]} {e.type} of {e.org}{origin}: {exc.message}{field} "
                   f"(HTTP {exc.status} {exc.code})", err=True)
    if stopped:
        click.echo(f"stopped: {stopped}; run `minutebook outbox push` again when the node is back", err=True)
    if left:
        raise SystemExit(EXIT_UNREACHABLE)
    if refused:
        raise SystemExit(EXIT_FAILED)


def _push_batches(pending: list, batch_size: int) -> list[list]:
    """The pending entries in signing order, cut where one needs an earlier one committed
    (client/waves.py) and at `batch_size`."""
    from ledger.documents import Envelope
    from ledger.sealing import envelope_of

    from .waves import independent_runs

    docs = [(Envelope.from_bytes(envelope_of(e.envelope)).doc, e.signers) for e in pending]
    return [[pending[i] for i in run] for run in independent_runs(docs, batch_size)]


def _push_batch(box, batch: list, client, timeout: float):
    """Deliver one batch (client/outbox.py); a batch refused as a whole (malformed, too large)
    goes one envelope at a time, each getting its own answer, until one finds the node gone."""
    from . import errors as api_errors
    from .outbox import deliver, deliver_batch

    try:
        yield from deliver_batch(box, batch, lambda envelopes: client.submit_batch(
            envelopes, wait=True, timeout=timeout, max_documents=len(envelopes)))
        return
    except api_errors.ApiError:
        pass
    for entry in batch:
        delivery = deliver(box, entry, lambda data: client.submit(data, wait=True, timeout=timeout))
        yield delivery
        if isinstance(delivery.error, (api_errors.ConnectionFailed, api_errors.UnavailableError)):
            return


@outbox.command("drop", epilog=EXIT_CODES_HELP)
@click.argument("doc_id")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@cli_errors
def outbox_drop(doc_id: str, directory: str | None) -> None:
    """Forget a pending envelope (by its id or a unique prefix of 8 or more characters).

    Only for an envelope that surely never reached a node: one that did may
    still be committed, and then `push` is the way to learn its fate.

    \b
    Example:
      minutebook outbox drop 3f9a0c1e77b2 ~/bien-ban/minutebook-outbox
    """
    box = _outbox_arg(directory)
    if len(doc_id) < 8:
        raise fail(f"{doc_id}: give at least 8 characters of the document id", EXIT_INPUT)
    matches = [e for e in box.entries("pending") if e.doc_id.startswith(doc_id.lower())]
    if len(matches) != 1:
        what = "no pending entry" if not matches else f"{len(matches)} pending entries"
        raise fail(f"{doc_id}: {what} with this id in {box.path} (`minutebook outbox list` shows them)", EXIT_INPUT)
    entry = box.drop(matches[0].doc_id)
    click.echo(f"dropped {entry.doc_id} ({entry.type} of {entry.org})")


COMMANDS = [sign, submit, outbox]
