"""`minutebook keys new | get | receipt`: the commands a committee office uses
day to day (`sign`, `submit` and `outbox` are in client/cli_submit.py, `import`
in client/cli_import.py, `export` in client/cli_export.py; figures and lists in
client/cli_views.py). Registered on the group in client/cli.py."""

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

__all__ = ["keys_group", "get", "receipt", "COMMANDS"]


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


COMMANDS = [keys_group, get, receipt]
