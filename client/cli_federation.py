"""`minutebook keys verifier`, `minutebook monitor` and the pinned-checkpoint
side of `minutebook verify`: the commands of a ledger among ledgers.

File formats they read (README "Formats that outside tools rely on"):

- a checkpoint: the C2SP signed note ``GET /checkpoint`` serves;
- checkpoint keys: one verifier key (``<name>+<key ID>+<base64 key>``) per
  line, blank lines and lines starting with ``#`` ignored, or the JSON of
  ``GET /v1/verifier-keys`` (its ``keys[].vkey``);
- a consistency proof: the JSON of ``GET /v1/proofs/consistency``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .cli_common import EXIT_CODES_HELP, EXIT_INPUT, EXIT_UNREACHABLE, cli_errors, fail
from .cli_docs import keys_group

__all__ = ["read_checkpoint_keys", "verify_pinned", "verify_through_anchor", "keys_verifier", "monitor", "anchor",
           "COMMANDS"]


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.UsageError(f"no such {what} file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read {what} {path}: {exc}") from None


def read_checkpoint_keys(text: str) -> list[str]:
    """Verifier keys from a keys file: one per line (``#`` comments), or the
    JSON of ``GET /v1/verifier-keys``."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(text)
            return [entry["vkey"] for entry in obj["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise click.UsageError(f"not the JSON of /v1/verifier-keys ({exc})") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _log_size(receipt: Any) -> int | None:
    try:
        size = receipt["block"]["header_fields"]["log_size"]
    except (KeyError, TypeError):
        return None
    return size if type(size) is int else None


def verify_pinned(receipt: Any, genesis: Any, checkpoint_path: str | None, keys_path: str | None,
                  witness_keys: tuple[str, ...], consistency_path: str | None, node_url: str | None) -> Any:
    """`minutebook verify` with a pinned checkpoint: read the files, fetch the
    consistency proof from `node_url` if needed, run verify_receipt_pinned."""
    from .verify import pin_checkpoint, verify_receipt_pinned

    if checkpoint_path is None or keys_path is None:
        raise click.UsageError("a pinned checkpoint needs both --checkpoint and --checkpoint-keys "
                               "(`minutebook keys verifier --node URL` prints the keys)")
    note = _read_text(checkpoint_path, "checkpoint")
    keys = read_checkpoint_keys(_read_text(keys_path, "checkpoint keys"))
    anchor = pin_checkpoint(note, keys, genesis, witness_keys=witness_keys)
    proof = None
    if consistency_path is not None:
        proof = _read_json(consistency_path, "consistency proof")
    else:
        m, n = _log_size(receipt), anchor.checkpoint.size
        if node_url is not None and m is not None and m != n:
            proof = _fetch_consistency(node_url, min(m, n), max(m, n))
    return verify_receipt_pinned(receipt, genesis, anchor, proof)


def verify_through_anchor(receipt: Any, genesis: Any, anchor_path: str, anchor_genesis_path: str | None,
                          consistency_path: str | None, node_url: str | None) -> Any:
    """`minutebook verify --anchor`: the anchoring chain (client/verify.py verify_anchored)."""
    from .verify import verify_anchored

    if anchor_genesis_path is None:
        raise click.UsageError("--anchor needs --anchor-genesis (the higher ledger's genesis.json)")
    anchor_receipt = _read_json(anchor_path, "anchor receipt")
    anchor_genesis = _read_json(anchor_genesis_path, "anchor genesis")
    proof = _read_json(consistency_path, "consistency proof") if consistency_path is not None else None
    if proof is None and node_url is not None:
        # Only for an anchor of this receipt's ledger: another ledger's anchored size means nothing to
        # this node, and verify_anchored names that anchor's fault ("anchor_document") itself.
        m, (origin, n) = _log_size(receipt), _anchored(anchor_receipt)
        if m is not None and n is not None and m < n and origin == _origin(genesis):
            proof = _fetch_consistency(node_url, m, n)
    return verify_anchored(receipt, genesis, anchor_receipt, anchor_genesis, proof)


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(_read_text(path, what))
    except ValueError as exc:
        raise click.UsageError(f"{path} is not JSON: {exc}") from None


def _anchored(anchor_receipt: Any) -> tuple[str | None, int | None]:
    """The ledger origin and tree size an anchor receipt's document records, if it reads as one
    (checked later, by verify_anchored)."""
    from ledger.checkpoint import Checkpoint
    from ledger.documents import Envelope
    from ledger.errors import MinutebookError
    from ledger.jsonfmt import b64d

    try:
        body = Envelope.from_bytes(b64d(anchor_receipt["envelope"])).doc.body
        return body["origin"], Checkpoint.from_text(body["checkpoint"].split("\n\n")[0] + "\n").size
    except (MinutebookError, KeyError, TypeError, AttributeError):
        return None, None


def _origin(genesis: Any) -> str | None:
    """The checkpoint origin of the ledger of `genesis` (None if it does not read as a genesis)."""
    from ledger.checkpoint import checkpoint_origin
    from ledger.errors import MinutebookError
    from ledger.genesis import Genesis

    try:
        return checkpoint_origin(Genesis.from_json(genesis))
    except (MinutebookError, KeyError, TypeError, AttributeError, ValueError):
        return None


def _fetch_consistency(node_url: str, first: int, second: int) -> dict:
    from . import errors as api_errors
    from .sdk import Client

    try:
        with Client(node_url, retries=2) as client:
            return client.consistency(first, second)
    except api_errors.ConnectionFailed as exc:
        raise fail(f"cannot fetch the consistency proof from {node_url}: {exc}", EXIT_UNREACHABLE) from None
    except api_errors.ApiError as exc:
        raise fail(f"{node_url} gave no consistency proof from {first} to {second}: {exc.message}", EXIT_INPUT) \
            from None


# -- keys verifier -------------------------------------------------------------------


@keys_group.command("verifier", epilog=EXIT_CODES_HELP)
@click.option("--node", "node_url", metavar="URL", help="List the voters' verifier keys this node reports.")
@click.option("--height", type=click.IntRange(1), help="With --node: the voters that sign this block (default: "
                                                        "the next one).")
@click.option("--genesis", "-g", "genesis_path", type=click.Path(dir_okay=False),
              help="With --key: the ledger whose checkpoints the node key signs.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False), help="A node key file (or a witness's "
                                                                           "cosigner key file with --cosigner).")
@click.option("--cosigner", metavar="NAME", help="With --key: print the witness cosigner key named NAME "
                                                 "(tlog-cosignature, type 0x04).")
@click.option("--json", "as_json", is_flag=True, help="With --node: print the route's JSON.")
@cli_errors
def keys_verifier(node_url: str | None, height: int | None, genesis_path: str | None, key_path: str | None,
                  cosigner: str | None, as_json: bool) -> None:
    """Print checkpoint verifier keys (C2SP signed-note vkeys), one per line.

    --node URL lists the keys of the voters that sign a ledger's checkpoints
    (a witness or an auditor pins them). --genesis G --key K prints the key
    of node key file K for G's ledger; --cosigner NAME --key K the
    cosignature key of a witness.

    \b
    Example:
      minutebook keys verifier --node http://127.0.0.1:8101 > pin-keys.txt
      minutebook keys verifier --genesis devnet/genesis.json --key devnet/keys/n1.json
      minutebook keys verifier --cosigner minutebook/central/witness/n1 --key keys/n1-witness.json
    """
    from ledger.keys import read_key_file
    from ledger.signed_note import SIG_COSIGNATURE_V1, VerifierKey

    chosen = [x for x in (node_url, genesis_path or None, cosigner) if x]
    if node_url is not None and (genesis_path or key_path or cosigner):
        raise click.UsageError("give --node URL, or --genesis G --key K, or --cosigner NAME --key K")
    if node_url is not None:
        from .sdk import Client

        with Client(node_url, retries=2) as client:
            obj = client._get("/v1/verifier-keys", **({"height": height} if height else {}))
        if as_json:
            click.echo(json.dumps(obj, indent=2))
            return
        for entry in obj["keys"]:
            click.echo(entry["vkey"])
        return
    if not chosen or key_path is None or (genesis_path and cosigner):
        raise click.UsageError("give --node URL, or --genesis G --key K, or --cosigner NAME --key K")
    key = read_key_file(key_path)
    if cosigner is not None:
        click.echo(VerifierKey.of(cosigner, key.public_key, SIG_COSIGNATURE_V1).text)
        return
    from ledger.checkpoint import checkpoint_origin
    from ledger.genesis import Genesis

    try:
        genesis = Genesis.from_json(json.loads(_read_text(genesis_path, "genesis")))
    except ValueError as exc:
        raise fail(f"{genesis_path} is not valid JSON: {exc}", EXIT_INPUT) from None
    click.echo(VerifierKey.of(checkpoint_origin(genesis), key.public_key).text)


# -- monitor ---------------------------------------------------------------------------------


@click.command(epilog=EXIT_CODES_HELP + "\n\b\nThe monitor exits 1 on a fork (the evidence is printed) and 3 when "
                                        "no source answered (with --once).")
@click.option("--ledger", "ledgers", multiple=True, metavar="URL", help="A node of the ledger to follow (repeat "
                                                                       "for each node to compare).")
@click.option("--witness", "witnesses", multiple=True, metavar="URL",
              help="A witness of the ledger (its monitoring prefix): its cosigned checkpoint is compared too.")
@click.option("--genesis", "-g", "genesis_path", type=click.Path(dir_okay=False),
              help="The ledger's genesis.json: the origin and the genesis voters' keys.")
@click.option("--keys", "keys_path", type=click.Path(dir_okay=False),
              help="The voters' verifier keys instead (a file as for verify --checkpoint-keys).")
@click.option("--signatures", type=click.IntRange(1), help="Log signatures required (default: a strict "
                                                           "majority of the keys).")
@click.option("--witness-key", "witness_keys", multiple=True, metavar="VKEY",
              help="A witness cosigner key every checkpoint must carry a cosignature of (repeatable).")
@click.option("--state", "state_path", required=True, type=click.Path(dir_okay=False),
              help="The monitor's state file (written atomically and fsynced after each accepted checkpoint).")
@click.option("--interval", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="One round, then exit.")
@cli_errors
def monitor(ledgers: tuple[str, ...], witnesses: tuple[str, ...], genesis_path: str | None, keys_path: str | None,
            signatures: int | None, witness_keys: tuple[str, ...], state_path: str, interval: float,
            once: bool) -> None:
    """Follow a ledger's checkpoints and catch a fork, with the evidence.

    Each round fetches GET /checkpoint from every --ledger node (and the
    cosigned checkpoint from every --witness), verifies each signed note,
    and checks it against the last checkpoint accepted: one tree size, one
    root; between sizes, a consistency proof from the nodes. The state file
    keeps the last accepted checkpoint across restarts. On two signed
    checkpoints no consistency proof joins, it prints the evidence as JSON
    (also written to STATE.fork.json) and exits 1.

    \b
    Example:
      minutebook monitor --genesis devnet/genesis.json --state monitor.json \\
          --ledger http://127.0.0.1:8101 --ledger http://127.0.0.1:8102 --ledger http://127.0.0.1:8103
    """
    from ledger.checkpoint import checkpoint_origin
    from ledger.genesis import Genesis
    from ledger.signed_note import VerifierKey

    from .monitor import ForkEvidence, Monitor, Source
    from .verify import genesis_voters

    if not ledgers and not witnesses:
        raise click.UsageError("give at least one --ledger URL (or --witness URL)")
    if (genesis_path is None) == (keys_path is None):
        raise click.UsageError("give --genesis G or --keys FILE")
    if genesis_path is not None:
        try:
            genesis = json.loads(_read_text(genesis_path, "genesis"))
            origin = checkpoint_origin(Genesis.from_json(genesis))
        except ValueError as exc:
            raise fail(f"{genesis_path} is not valid JSON: {exc}", EXIT_INPUT) from None
        keys = [VerifierKey.of(origin, pk) for pk in genesis_voters(genesis).values()]
    else:
        keys = [VerifierKey.from_text(k, f"{keys_path}: key {i + 1}")
                for i, k in enumerate(read_checkpoint_keys(_read_text(keys_path, "keys")))]
        names = {k.name for k in keys}
        if len(names) != 1:
            raise fail(f"{keys_path}: the keys name {len(names)} origins; one ledger's keys share its origin",
                       EXIT_INPUT)
        origin = names.pop()
    cosigners = [VerifierKey.from_text(k, f"--witness-key {i + 1}") for i, k in enumerate(witness_keys)]
    sources = [Source(url, "ledger") for url in ledgers] + [Source(url, "witness") for url in witnesses]
    mon = Monitor(origin=origin, keys=keys, sources=sources, state_path=Path(state_path), required=signatures,
                  witness_keys=cosigners)
    try:
        while True:
            try:
                observations = mon.round()
            except ForkEvidence as evidence:
                click.echo(f"FORK {evidence.origin}: {evidence.reason}", err=True)
                click.echo(json.dumps(evidence.to_json(), indent=2, ensure_ascii=False))
                raise SystemExit(1) from None
            for obs in observations:
                if obs.verified is not None:
                    cp = obs.verified.checkpoint
                    click.echo(f"OK {obs.source.url}: {cp.size} documents, root {cp.root_hash.hex()}")
                else:
                    click.echo(f"WARN {obs.source.url}: {obs.problem}")
            if mon.state is not None:
                click.echo(f"state: {mon.state.checkpoint.size} documents (from {mon.state.source})")
            if once:
                if not any(o.verified is not None for o in observations):
                    raise fail("no source served a checkpoint that verifies", EXIT_UNREACHABLE)
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        mon.close()


# -- anchor ------------------------------------------------------------------------------


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--ledger", "lower_url", required=True, metavar="URL", help="A node of the lower ledger to anchor.")
@click.option("--witness", "witness_url", required=True, metavar="URL",
              help="The witness whose cosigned checkpoint is anchored (a node of the higher ledger).")
@click.option("--node", "higher_url", required=True, metavar="URL", help="A node of the higher ledger.")
@click.option("--key", "-k", "key_path", required=True, type=click.Path(dir_okay=False),
              help="Key file of an officer of the higher ledger's root unit (secretary, deputy or inspector).")
@click.option("--keys", "keys_path", type=click.Path(dir_okay=False),
              help="The lower voters' verifier keys (default: as the lower node reports them).")
@click.option("--witness-key", "witness_keys", multiple=True, metavar="VKEY",
              help="The witness's cosigner key (default: as the witness node reports it).")
@click.option("--refresh", is_flag=True, help="Anchor even if the last anchor holds the same tree.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the anchor's commit.")
@cli_errors
def anchor(lower_url: str, witness_url: str, higher_url: str, key_path: str, keys_path: str | None,
           witness_keys: tuple[str, ...], refresh: bool, timeout: float) -> None:
    """Record a lower ledger's witnessed checkpoint in the higher ledger.

    Takes the witness's latest cosigned checkpoint of the lower ledger,
    checks it, adds the consistency proof from the higher ledger's previous
    anchor of it, and submits an `anchor` document signed with KEY (the
    higher ledger takes at most one per lower ledger per anchor_interval_ms).
    Prints the anchor's receipt JSON, which `minutebook verify --anchor`
    reads.

    \b
    Example:
      minutebook anchor --ledger http://127.0.0.1:8201 --witness http://127.0.0.1:8101 \\
          --node http://127.0.0.1:8101 --key fed/central/keys/members/m0003.json > anchor.json
    """
    from .anchoring import AnchorSkipped, anchor_once
    from .cli_common import echo_json, load_keys
    from .sdk import Client

    keys = read_checkpoint_keys(_read_text(keys_path, "keys")) if keys_path else None
    officer = load_keys((key_path,))[0]
    with Client(lower_url, retries=2) as lower, Client(witness_url, retries=2) as witness, \
            Client(higher_url, timeout=timeout + 10) as higher:
        try:
            result = anchor_once(lower=lower, witness=witness, higher=higher, officer=officer, lower_keys=keys,
                                 witness_keys=list(witness_keys) or None, timeout=timeout, refresh=refresh)
        except AnchorSkipped as exc:
            raise fail(f"nothing new to anchor: {exc}", 1) from None
    echo_json(result["receipt"])


COMMANDS: list = [monitor, anchor]
