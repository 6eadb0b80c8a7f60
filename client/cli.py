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
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False),
              help="A checkpoint to pin (C2SP signed note, e.g. from GET /checkpoint): the receipt must be "
                   "consistent with it and, if newer, certified by voters descending from its signers.")
@click.option("--checkpoint-keys", "keys_path", type=click.Path(dir_okay=False),
              help="The verifier keys of every voter in force when the pinned checkpoint was signed: one per "
                   "line, or the JSON of GET /v1/verifier-keys.")
@click.option("--witness-key", "witness_keys", multiple=True, metavar="VKEY",
              help="A witness's cosignature verifier key that must have cosigned the pinned checkpoint "
                   "(repeatable).")
@click.option("--consistency", "consistency_path", type=click.Path(dir_okay=False),
              help="The consistency proof {first, second, proof} between the receipt's log size and the pin's.")
@click.option("--anchor", "anchor_path", type=click.Path(dir_okay=False),
              help="The receipt of an anchor document in a higher ledger that holds a checkpoint of the "
                   "receipt's ledger (minutebook anchor prints one): the pin comes from there.")
@click.option("--anchor-genesis", "anchor_genesis_path", type=click.Path(dir_okay=False),
              help="genesis.json of the higher ledger that holds --anchor.")
@click.option("--node", "node_url", metavar="URL",
              help="Fetch the consistency proof from this node of the receipt's ledger if --consistency is not "
                   "given (a node need not be trusted: the proof is checked).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def verify(receipt: str, genesis_path: str, checkpoint_path: str | None, keys_path: str | None,
           witness_keys: tuple[str, ...], consistency_path: str | None, anchor_path: str | None,
           anchor_genesis_path: str | None, node_url: str | None, as_json: bool) -> None:
    """Verify a document receipt offline, trusting no node.

    Checks, in order: the receipt's shape; the envelope decodes canonically;
    its document hashes to doc_id; every signature on it verifies; the header
    hashes to block_hash and matches header_fields; the voter set at that
    height (from genesis, following the receipt's membership receipts); a
    strict majority of those voters signed the block; the block lists the
    document as accepted at leaf_index; and the inclusion proof reaches the
    block's log_root.

    With --checkpoint and --checkpoint-keys it first checks the pinned
    checkpoint (check "pin"), then that the receipt's log and the pin are one
    log ("consistency") and that a receipt newer than the pin is certified by
    voters descending from the pin's ("pinned_voters"). Knowing only genesis,
    a receipt whose membership was left out cannot be told from one of a
    ledger whose voters never changed; a recent pin closes that gap.

    With --anchor and --anchor-genesis the pin is the checkpoint a higher
    ledger anchored: its receipt is checked against the higher genesis
    ("anchor_receipt"), it must anchor this ledger ("anchor_document"), then
    "pin" and the receipt's checks, and the receipt must be at or before the
    anchored checkpoint ("consistency").

    Exits 0 if every check holds; otherwise prints "FAILED <check>: <message>"
    and exits 1. Exits 2 if a file cannot be read.

    \b
    Example:
      minutebook receipt 3f9a... --node http://127.0.0.1:8001 > receipt.json
      minutebook verify receipt.json --genesis devnet/genesis.json
      curl -s http://127.0.0.1:8101/checkpoint > pin.txt
      minutebook keys verifier --node http://127.0.0.1:8101 > pin-keys.txt
      minutebook verify receipt.json --genesis devnet/genesis.json \\
          --checkpoint pin.txt --checkpoint-keys pin-keys.txt --node http://127.0.0.1:8101
      minutebook verify cell-receipt.json --genesis fed/p1/genesis.json --node http://127.0.0.1:8201 \\
          --anchor anchor.json --anchor-genesis fed/central/genesis.json
    """
    import json

    from ledger.errors import ProofFailed

    from .verify import verify_receipt

    receipt_obj = _read_json_file(receipt, "receipt")
    genesis_obj = _read_json_file(genesis_path, "genesis")
    pinned = anchored = None
    try:
        if anchor_path is not None:
            if checkpoint_path is not None or keys_path is not None:
                raise click.UsageError("--anchor takes its pin from the anchor: leave out --checkpoint")
            from .cli_federation import verify_through_anchor

            anchored = verify_through_anchor(receipt_obj, genesis_obj, anchor_path, anchor_genesis_path,
                                             consistency_path, node_url)
            pinned = anchored.receipt
            result = pinned.receipt
        elif checkpoint_path is not None or keys_path is not None or witness_keys:
            from .cli_federation import verify_pinned

            pinned = verify_pinned(receipt_obj, genesis_obj, checkpoint_path, keys_path, witness_keys,
                                   consistency_path, node_url)
            result = pinned.receipt
        else:
            result = verify_receipt(receipt_obj, genesis_obj)
    except ProofFailed as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "check": exc.check, "message": exc.message.removeprefix(f"{exc.check}: ")}))
        else:
            click.echo(f"FAILED {exc}")
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps((anchored or pinned or result).to_json()))
        return
    click.echo(f"OK {result.doc_id}")
    click.echo(f"  {result.doc_type} of {result.org}, signed by {', '.join(result.signers)}")
    click.echo(f"  leaf {result.leaf_index} of {result.log_size}, block {result.height} ({result.block_hash})")
    click.echo(
        f"  certified by {len(result.certified_by)} of {len(result.voters)} voters: {', '.join(result.certified_by)}"
    )
    if pinned is not None:
        click.echo(f"  {pinned.position} the pinned checkpoint of {pinned.pinned_size} documents, and consistent "
                   f"with it")
    if anchored is not None:
        a = anchored.anchor
        click.echo(f"  anchored by {a.doc_id} at leaf {a.leaf_index} of the higher ledger, block {a.height}, "
                   f"certified by {', '.join(a.certified_by)}")


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
    cli_export.py, cli_views.py, cli_committee.py, cli_access.py, cli_audit.py, cli_devnet.py,
    cli_federation.py), so parts written in parallel do not edit the same lines."""
    from . import (
        cli_access,
        cli_audit,
        cli_committee,
        cli_devnet,
        cli_docs,
        cli_export,
        cli_federation,
        cli_import,
        cli_submit,
        cli_views,
    )

    for module in (
        cli_docs,
        cli_submit,
        cli_import,
        cli_export,
        cli_views,
        cli_committee,
        cli_access,
        cli_audit,
        cli_devnet,
        cli_federation,
    ):
        for command in module.COMMANDS:
            main.add_command(command)


_register_command_modules()


if __name__ == "__main__":
    main()
