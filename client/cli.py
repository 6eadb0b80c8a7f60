"""The `minutebook` command line."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="minutebook")
def main() -> None:
    """minutebook: a permissioned ledger of minutes, resolutions and member records."""


def _read_json_file(path: str, what: str) -> object:
    """Parse a JSON file; an unreadable one is a usage error (exit 2)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.UsageError(f"cannot read {what} {path}: {exc}") from None


@main.command()
@click.argument("receipt", type=click.Path(dir_okay=False))
@click.option("--genesis", "-g", "genesis_path", required=True, type=click.Path(dir_okay=False),
              help="genesis.json of the ledger the receipt claims to come from.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def verify(receipt: str, genesis_path: str, as_json: bool) -> None:
    """Verify a document receipt offline, trusting no node.

    Checks, in order: the receipt's shape; the envelope decodes canonically;
    its document hashes to doc_id; every signature on it verifies; the header
    hashes to block_hash and matches header_fields; the voter set at that
    height (from genesis, following the receipt's membership receipts); a
    strict majority of those voters signed the block; the block lists the
    document as accepted at leaf_index; and the inclusion proof reaches the
    block's log_root.

    Exits 0 if every check holds; otherwise prints "FAILED <check>: <message>"
    and exits 1. Exits 2 if a file cannot be read.

    \b
    Example:
      minutebook receipt 3f9a... --node http://127.0.0.1:8001 > receipt.json
      minutebook verify receipt.json --genesis devnet/genesis.json
    """
    import json

    from ledger.errors import ProofFailed

    from .verify import verify_receipt

    receipt_obj = _read_json_file(receipt, "receipt")
    genesis_obj = _read_json_file(genesis_path, "genesis")
    try:
        result = verify_receipt(receipt_obj, genesis_obj)
    except ProofFailed as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "check": exc.check, "message": exc.message.removeprefix(f"{exc.check}: ")}))
        else:
            click.echo(f"FAILED {exc}")
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    click.echo(f"OK {result.doc_id}")
    click.echo(f"  {result.doc_type} of {result.org}, signed by {', '.join(result.signers)}")
    click.echo(f"  leaf {result.leaf_index} of {result.log_size}, block {result.height} ({result.block_hash})")
    click.echo(
        f"  certified by {len(result.certified_by)} of {len(result.voters)} voters: {', '.join(result.certified_by)}"
    )


@main.group("node")
def node_group() -> None:
    """Run a committee node."""


@node_group.command("start")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="the node's node.toml (see node/config.py).")
def node_start(config_path: str) -> None:
    """Run the node in the foreground until SIGTERM or SIGINT (then it flushes and closes its stores)."""
    from node.serve import run_node  # the node's dependencies load only for this command

    raise SystemExit(run_node(config_path))


def _register_command_modules() -> None:
    """Commands kept in their own modules (client/cli_docs.py, cli_submit.py, cli_import.py,
    cli_export.py, cli_views.py, cli_committee.py, cli_access.py, cli_audit.py, cli_devnet.py), so
    parts written in parallel do not edit the same lines."""
    from . import (cli_access, cli_audit, cli_committee, cli_devnet, cli_docs, cli_export, cli_import, cli_submit,
                   cli_views)

    for module in (cli_docs, cli_submit, cli_import, cli_export, cli_views, cli_committee, cli_access, cli_audit,
                   cli_devnet):
        for command in module.COMMANDS:
            main.add_command(command)


_register_command_modules()


if __name__ == "__main__":
    main()
