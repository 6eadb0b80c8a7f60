"""`minutebook devnet up --federation`: a central ledger and two provincial
ledgers on this machine, each province witnessed and anchored by the centre.

Layout of the federation directory D (each ledger's folder is a dev cluster
directory as README "Dev cluster directory" describes)::

    D/federation.json   {"ledgers": [{"name", "dir", "chain_id", "origin", "units", "nodes": [api_url...]}],
                         "witnesses": [{"node_id", "api_url", "vkey"}], "anchor_interval_ms"}
    D/central/          the central committee's ledger; every node is a witness of both
                        provinces ([witness] in nodes/nX.toml, cosigner keys keys/nX-witness.json)
    D/p1/, D/p2/        one ledger per province; its nodes push checkpoints to every
                        central node ([[witnessed_by]] in nodes/nX.toml)
    D/anchors/pX.json   the receipt of the latest anchor of province pX in the central ledger
    D/devnet.pid        while the supervisor runs

Every ledger's genesis has the national root unit ``central`` and its
officers (who govern each ledger's nodes), with its own ``chain_id``
(``minutebook-<name>-<seed>``), so unit paths mean the same in every ledger:
the cell ``central/p1/k1/s1`` is recorded in the ledger of p1. The sample
organisation (client/sample_org.py) is split by unit: the central ledger
takes the documents of the unit ``central`` itself, each province's ledger
those of its subtree.

The supervisor starts every node, waits for each ledger's leader, loads the
samples (once), waits until the central witness has cosigned each
province's checkpoint, then anchors it in the central ledger signed by the
central inspector (client/anchoring.py), and again every
``anchor_interval_ms`` while it runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from .cli_common import EXIT_FAILED, fail

__all__ = ["PROVINCES", "CENTRAL", "init_federation", "run_federation", "ANCHOR_INTERVAL_MS"]

CENTRAL = "central"
PROVINCES = ("p1", "p2")
ANCHOR_INTERVAL_MS = 60_000  # the devnet's centre anchors each province at most once a minute
PROVINCE_PORT_STEP = 100  # province i's nodes serve on base-port + 100 * i + n


def _unit_of(doc: dict) -> str:
    """The unit a sample document concerns: the unit made or closed, or its org."""
    body = doc.get("body", {})
    return body["path"] if doc["type"] == "org_unit" else doc["org"]


def _in_province(province: str):
    top = f"{CENTRAL}/{province}"
    return lambda doc: (u := _unit_of(doc)) == top or u.startswith(top + "/")


def _central_only(doc: dict) -> bool:
    return _unit_of(doc) == CENTRAL


def init_federation(directory: Path, *, central_nodes: int = 3, province_nodes: int = 1,
                    base_port: int = 8100, seed: int = 7) -> dict:
    """Write every ledger's keys, genesis, node configs and the witness
    settings; returns the federation.json object."""
    from ledger.checkpoint import checkpoint_origin
    from ledger.genesis import Genesis
    from ledger.keys import generate_seed, public_key, write_key_file
    from ledger.signed_note import SIG_COSIGNATURE_V1, VerifierKey
    from node.config import WitnessedLog, WitnessSettings, WitnessTarget, dump_config, load_config

    from .cli_devnet import _write_json, init_cluster

    directory = directory.resolve()
    now_ms = int(time.time() * 1000)
    ledgers, logs = [], []
    for i, province in enumerate(PROVINCES, start=1):
        path = directory / province
        chain_id = f"minutebook-{province}-{seed}"
        cluster = init_cluster(path, nodes=province_nodes, base_port=base_port + PROVINCE_PORT_STEP * i, seed=seed,
                               now_ms=now_ms, genesis_fields={"chain_id": chain_id})
        genesis = Genesis.from_json(json.loads((path / "genesis.json").read_text(encoding="utf-8")))
        origin = checkpoint_origin(genesis)
        keys = tuple(VerifierKey.of(origin, n["public_key"]) for n in genesis.nodes if n["role"] == "voter")
        logs.append(WitnessedLog(origin=origin, keys=keys, signatures=len(keys) // 2 + 1))
        ledgers.append({"name": province, "dir": province, "chain_id": chain_id, "origin": origin,
                        "units": f"{CENTRAL}/{province}", "nodes": [n["api_url"] for n in cluster["nodes"]]})

    central_path = directory / CENTRAL
    witness_seeds: dict[str, bytes] = {}

    def as_witness(cfg: Any) -> Any:
        seed_bytes = witness_seeds.setdefault(cfg.node_id, generate_seed())
        key_file = central_path / "keys" / f"{cfg.node_id}-witness.json"
        write_key_file(key_file, id_field="node_id", id=cfg.node_id, seed=seed_bytes)
        return replace(cfg, witness=WitnessSettings(key_file=key_file, logs=tuple(logs)))

    chain_id = f"minutebook-{CENTRAL}-{seed}"
    central = init_cluster(central_path, nodes=central_nodes, base_port=base_port, seed=seed, now_ms=now_ms,
                           genesis_fields={"chain_id": chain_id, "anchor_interval_ms": ANCHOR_INTERVAL_MS},
                           configure=as_witness)
    central_origin = checkpoint_origin(Genesis.from_json(json.loads((central_path / "genesis.json").read_text(
        encoding="utf-8"))))
    witnesses = []
    for node in central["nodes"]:
        name = f"{central_origin}/witness/{node['node_id']}"  # the runtime's default cosigner name
        vkey = VerifierKey.of(name, public_key(witness_seeds[node["node_id"]]), SIG_COSIGNATURE_V1)
        witnesses.append({"node_id": node["node_id"], "api_url": node["api_url"], "vkey": vkey.text})
    targets = tuple(WitnessTarget(url=w["api_url"], keys=(VerifierKey.from_text(w["vkey"]),)) for w in witnesses)
    for province in PROVINCES:
        for toml in sorted((directory / province / "nodes").glob("*.toml")):
            cfg = replace(load_config(toml), witnessed_by=targets)
            toml.write_text(dump_config(cfg, relative_to=toml.parent), encoding="utf-8")
    ledgers.insert(0, {"name": CENTRAL, "dir": CENTRAL, "chain_id": chain_id, "origin": central_origin,
                       "units": CENTRAL, "nodes": [n["api_url"] for n in central["nodes"]]})
    federation = {"ledgers": ledgers, "witnesses": witnesses, "anchor_interval_ms": ANCHOR_INTERVAL_MS}
    _write_json(directory / "federation.json", federation)
    return federation


def _member_key_file(ledger_path: Path, role: str) -> Path:
    """The key file, in one ledger's folder, of the central unit's holder of `role`."""
    members = json.loads((ledger_path / "members.json").read_text(encoding="utf-8"))
    holder = next(m for m in members if m["org"] == CENTRAL and role in m["roles"])
    return ledger_path / holder["key_file"]


def _officer_key(central_path: Path) -> Any:
    """The central inspector's key: the officer who signs the anchors."""
    from ledger.keys import read_key_file

    return read_key_file(_member_key_file(central_path, "inspector"))


def _wait_witnessed(witness_url: str, origin: str, lower_url: str, timeout: float = 60.0) -> None:
    """Until the witness has cosigned the province's latest signed checkpoint."""
    from ledger.checkpoint import Checkpoint

    from . import errors as api_errors
    from .sdk import Client

    deadline = time.monotonic() + timeout
    with Client(witness_url, retries=1) as witness, Client(lower_url, retries=1) as lower:
        while time.monotonic() < deadline:
            try:
                wanted = Checkpoint.from_text(lower.checkpoint().split("\n\n")[0] + "\n").size
                have = Checkpoint.from_text(witness.witnessed_checkpoint(origin).split("\n\n")[0] + "\n").size
                if have >= wanted:
                    return
            except api_errors.SdkError:
                pass
            time.sleep(0.5)
    raise fail(f"the witness {witness_url} did not cosign {origin}'s checkpoint within {timeout:.0f}s; see the "
               f"provincial nodes' logs", EXIT_FAILED)


def anchor_provinces(directory: Path, federation: dict, *, quiet: bool = False) -> list[str]:
    """Anchor each province's witnessed checkpoint in the central ledger
    (skipping one with nothing new); write D/anchors/<name>.json; the names anchored."""
    from .anchoring import AnchorSkipped, anchor_once
    from .cli_devnet import _write_json
    from .sdk import Client

    officer = _officer_key(directory / CENTRAL)
    central = next(entry for entry in federation["ledgers"] if entry["name"] == CENTRAL)
    witness = federation["witnesses"][0]
    anchored = []
    for entry in federation["ledgers"]:
        if entry["name"] == CENTRAL:
            continue
        with Client(entry["nodes"][0], retries=3) as lower, Client(witness["api_url"], retries=3) as wit, \
                Client(central["nodes"][0], timeout=60, retries=8) as higher:
            try:
                result = anchor_once(lower=lower, witness=wit, higher=higher, officer=officer,
                                     witness_keys=[witness["vkey"]], timeout=45)
            except AnchorSkipped:
                continue
        _write_json(directory / "anchors" / f"{entry['name']}.json", result["receipt"])
        anchored.append(entry["name"])
        if not quiet:
            click.echo(f"anchored {entry['name']} in the central ledger: document {result['doc_id']}")
    return anchored


EXAMPLE_CELL = f"{CENTRAL}/{PROVINCES[0]}/k1/s1"


def example_minutes(directory: Path) -> str | None:
    """The doc id of the sample's last accepted minutes of EXAMPLE_CELL (in the first province's ledger)."""
    from .cli_devnet import example_document

    return example_document(directory / PROVINCES[0], EXAMPLE_CELL, last=True)


def _print_welcome(directory: Path, federation: dict) -> None:
    click.echo("")
    click.echo("minutebook federated devnet is running:")
    for entry in federation["ledgers"]:
        role = "witnesses and anchors the provinces" if entry["name"] == CENTRAL else f"units {entry['units']}"
        click.echo(f"  {entry['name']:8} {'  '.join(entry['nodes'])}   ({role})")
    p1 = next(e for e in federation["ledgers"] if e["name"] == PROVINCES[0])
    d = directory
    click.echo("")
    auditor = _member_key_file(directory / PROVINCES[0], "inspector")  # the central inspector reads every ledger
    click.echo("Checkpoints, cosignatures and proofs are public; every read of content is a signed request "
               "(RFC 9421):")
    click.echo(f"--key names whose scope you read with, here the central inspector {auditor.stem}, whose scope "
               f"covers every province.")
    click.echo(f"  curl {p1['nodes'][0]}/checkpoint      # p1's latest checkpoint, cosigned by the central witnesses")
    click.echo(f"The minutes of the cell {EXAMPLE_CELL}, verified from a central auditor's seat:")
    click.echo(f"  minutebook receipt {example_minutes(directory) or 'DOC_ID'} --key {auditor} "
               f"--node {p1['nodes'][0]} > cell.json")
    click.echo(f"  minutebook verify cell.json --genesis {d}/p1/genesis.json --node {p1['nodes'][0]} \\")
    click.echo(f"      --anchor {d}/anchors/p1.json --anchor-genesis {d}/central/genesis.json")
    click.echo(f"  minutebook monitor --genesis {d}/p1/genesis.json --state {d}/monitor-p1.json --once \\")
    click.echo(f"      --ledger {p1['nodes'][0]} --witness {federation['witnesses'][0]['api_url']}")
    click.echo(f"Ledgers: {d}/central, {d}/p1, {d}/p2 (members.json, logs/ in each). Ctrl-C stops the federation.")


def run_federation(directory: Path, label: str, *, central_nodes: int, province_nodes: int, base_port: int,
                   no_sample: bool, detach_after_load: bool) -> None:
    """The supervisor of the module docstring (devnet up --federation)."""
    from .cli_devnet import _Supervisor, _wait_for_leader, forget_dead, load_once, read_cluster, supervising

    path = directory.resolve()
    if not (path / "federation.json").exists():
        click.echo(f"initialising the federation in {label} ({central_nodes} central nodes, {province_nodes} per "
                   f"province)")
        init_federation(path, central_nodes=central_nodes, province_nodes=province_nodes, base_port=base_port)
    federation = json.loads((path / "federation.json").read_text(encoding="utf-8"))
    interval = federation["anchor_interval_ms"] / 1000.0
    with supervising(path, label):
        sups = [_Supervisor(path / e["dir"], read_cluster(path / e["dir"], f"{label}/{e['dir']}"))
                for e in federation["ledgers"]]
        try:
            for sup in sups:
                sup.start()
            click.echo(f"started {sum(len(s.children) for s in sups)} nodes in {len(sups)} ledgers; waiting for "
                       f"their leaders…")
            leaders = [_wait_for_leader(sup) for sup in sups]
            if not no_sample:
                for entry, leader in zip(federation["ledgers"], leaders):
                    select = _central_only if entry["name"] == CENTRAL else _in_province(entry["name"])
                    load_once(path / entry["dir"], leader, select=select, label=f"the {entry['name']} ledger")
            for entry in federation["ledgers"][1:]:
                _wait_witnessed(federation["witnesses"][0]["api_url"], entry["origin"], entry["nodes"][0])
            anchor_provinces(path, federation)
            _print_welcome(path, federation)
            if detach_after_load:
                return
            next_anchor = time.monotonic() + interval
            while True:
                time.sleep(1.0)
                for sup, entry in zip(sups, federation["ledgers"]):
                    forget_dead(sup, f"{label}/{entry['dir']}")
                if time.monotonic() >= next_anchor:
                    next_anchor = time.monotonic() + interval
                    try:
                        anchor_provinces(path, federation)
                    except Exception as exc:  # noqa: BLE001 -- a missed round is retried; the devnet goes on
                        click.echo(f"warning: anchoring failed this round: {exc}", err=True)
        except KeyboardInterrupt:
            click.echo("\nstopping the nodes…")
        finally:
            for sup in sups:
                sup.stop()
    click.echo("stopped")
