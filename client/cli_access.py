"""`minutebook open` and `minutebook whoami`: reading what is sealed to you,
and asking a node who it takes you for. Registered on the group in client/cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_common import EXIT_CODES_HELP, EXIT_FAILED, cli_errors, echo_json, fail, key_option, node_option, request_key

__all__ = ["open_", "whoami", "COMMANDS"]


@click.command("open", epilog=EXIT_CODES_HELP)
@click.argument("doc_id")
@node_option()
@key_option()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the body JSON to this file.")
@cli_errors
def open_(doc_id: str, node: str, key_path: str | None, output: str | None) -> None:
    """Open your sealed copy of a confidential document and prove it is the one on the ledger.

    Fetches the document and your sealed box (signed with --key; only a
    recipient gets a box), opens the box with the key file's secret key, and
    checks that the body and salt inside hash to the document's commitment
    (SHA-256 of "minutebook/commit/v1\\0" + salt + canonical body). Prints the
    body as JSON and `commitment OK` on stderr; exits 1 naming the failed check
    (`sealed_box`: the box does not open with this key or was altered;
    `commitment`: it opens but is not this document's body).

    \b
    Example:
      minutebook open 3f9a0c...e1 --key devnet/keys/members/m0012.json --node http://127.0.0.1:8101
    """
    from ledger.errors import ProofFailed

    from .sdk import Client

    key = request_key(key_path)
    if key is None:
        raise click.UsageError("give --key (your key file; the box is sealed to it), or set $MINUTEBOOK_KEY")
    with Client(node, key=key) as client:
        try:
            body = client.open(doc_id, key)
        except ProofFailed as exc:
            raise fail(f"FAILED {exc}", EXIT_FAILED) from None
    if output:
        Path(output).write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        echo_json(body)
    click.echo(f"commitment OK: the body opened with {key.id}'s key is the one document {doc_id[:16]}… commits to",
               err=True)


@click.command(epilog=EXIT_CODES_HELP)
@node_option()
@key_option()
@cli_errors
def whoami(node: str, key_path: str | None) -> None:
    """Who the node takes your key for, and what your scope lets you read.

    \b
    Example:
      minutebook whoami --key devnet/keys/members/m0010.json
    """
    from .sdk import Client

    with Client(node, key=request_key(key_path)) as client:
        session = client.session()
    click.echo(f"{session['kind']} {session['caller']} (by {session['via']})")
    click.echo(f"scope: {session['scope']}")


COMMANDS = [open_, whoami]
