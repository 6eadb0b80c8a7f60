"""The `minutebook` CLI with click's CliRunner: init's layout, submit of YAML
and JSON, one-line errors with their exit codes, get/receipt/stats/import, and
audit (passing, then catching a tampered envelope and a fork). Commands that
talk to a node run against tests/node/service_double.py served by uvicorn."""

from __future__ import annotations

import json
import time
import os
import stat

import pytest

from client.cli import main
from client.sample_org import SampleOrg
from client.sdk import sign_document
from node.config import load_config
from tests.client.sample_service import ANCHOR, NODE_SEEDS, loaded_service, officer_keys, run
from tests.node.service_double import ServiceDouble, serve
from tests.ports import devnet_base_port, free_port



def _node_key(directory, node_id: str = "n1") -> str:
    """A node's key file on disk (reads everything: audit needs block envelopes)."""
    from ledger.keys import write_key_file

    path = directory / f"{node_id}.json"
    if not path.exists():
        write_key_file(path, id_field="node_id", id=node_id, seed=NODE_SEEDS[node_id])
    return str(path)


def _member_key(ctx, member_id: str) -> str:
    return str(ctx["dir"] / "keys" / "members" / f"{member_id}.json")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A served node with the sample organisation loaded; member keys on disk."""
    d = tmp_path_factory.mktemp("cli")
    org = SampleOrg(seed=7, anchor_ms=ANCHOR)
    genesis, service = loaded_service(org)
    (d / "genesis.json").write_text(json.dumps(genesis))
    org.members_json(d)
    with serve(service) as url:
        yield {"dir": d, "org": org, "service": service, "url": url, "genesis": d / "genesis.json"}


def _officer_keys(ctx, unit="central/p1/k1/s1") -> list[str]:
    return officer_keys(ctx["org"], ctx["dir"], unit)


MINUTES_YAML = """\
type: minutes
org: central/p1/k1/s1
created_at: 2025-10-09T08:00:00Z
body:
  meeting_id: central/p1/k1/s1/yaml-{label}
  kind: thematic
  held_at: 2025-10-08T19:00:00Z
  mode: in_person
  chair: {chair}
  secretary: {secretary}
  attendees:
    - {{member: {chair}, present: true}}
    - {{member: {secretary}, present: true}}
  agenda: [Học tập nghị quyết]
  opinions: []
  votes: []
  decisions: []
  text: Họp chuyên đề
"""


def _minutes_yaml(ctx, label: str) -> str:
    org = ctx["org"]
    unit = "central/p1/k1/s1"
    return MINUTES_YAML.format(label=label, chair=org._officer(unit, "deputy_secretary"),
                               secretary=org._officer(unit, "secretary"))


# -- init ----------------------------------------------------------------------


def test_init_writes_the_documented_layout(tmp_path):
    d = tmp_path / "dn"
    r = run("init", "--dir", str(d), "--nodes", "3", "--base-port", str(devnet_base_port(3)))
    assert r.exit_code == 0, r.output
    cluster = json.loads((d / "cluster.json").read_text())
    assert [n["node_id"] for n in cluster["nodes"]] == ["n1", "n2", "n3"]
    assert set(cluster["nodes"][0]) == {"node_id", "api_url", "peer_addr", "data_dir"}
    genesis = json.loads((d / "genesis.json").read_text())
    assert {"chain_id", "created_at", "units", "members", "nodes"} <= set(genesis)
    assert [n["role"] for n in genesis["nodes"]] == ["voter"] * 3
    for n in cluster["nodes"]:
        cfg = load_config(d / "nodes" / f"{n['node_id']}.toml")
        assert cfg.node_id == n["node_id"] and cfg.key_file.exists() and cfg.genesis == d.resolve() / "genesis.json"
        assert f"http://{cfg.api_listen}" == n["api_url"] and cfg.peer_listen == n["peer_addr"]
        assert len(cfg.peers) == 2
        assert stat.S_IMODE(os.stat(cfg.key_file).st_mode) == 0o600
    members = json.loads((d / "members.json").read_text())
    assert len(members) > 190
    assert set(members[0]) >= {"member_id", "org", "roles", "key_file"}
    assert all((d / m["key_file"]).exists() for m in members)
    again = run("init", "--dir", str(d))
    assert again.exit_code == 2 and "initialised already" in again.output


def test_keys_new(tmp_path):
    out = tmp_path / "k.json"
    r = run("keys", "new", "--member-id", "m9999", "--out", str(out))
    assert r.exit_code == 0 and "public_key" in r.output
    assert json.loads(out.read_text())["member_id"] == "m9999"
    assert run("keys", "new", "--member-id", "m9999", "--out", str(out)).exit_code == 2
    assert run("keys", "new", "--out", str(tmp_path / "x.json")).exit_code == 2


# -- submit and friends --------------------------------------------------------


def test_submit_yaml_with_wait_prints_the_receipt(node, tmp_path):
    f = tmp_path / "minutes.yaml"
    f.write_text(_minutes_yaml(node, "wait"), encoding="utf-8")
    keys = _officer_keys(node)
    r = run("submit", str(f), "--key", keys[0], "--key", keys[1], "--node", node["url"], "--wait")
    assert r.exit_code == 0, r.output
    receipt = json.loads(r.output)
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(r.output)
    v = run("verify", str(receipt_file), "--genesis", str(node["genesis"]))
    assert v.exit_code == 0 and v.output.startswith(f"OK {receipt['doc_id']}")
    got = run("get", receipt["doc_id"], "--node", node["url"], "--key", keys[1])
    assert json.loads(got.output)["doc"]["body"]["text"] == "Họp chuyên đề"
    out = tmp_path / "r2.json"
    assert run("receipt", receipt["doc_id"], "--node", node["url"], "-o", str(out), "--key", keys[0]).exit_code == 0
    assert json.loads(out.read_text())["doc_id"] == receipt["doc_id"]


def test_reads_need_a_key_and_stay_in_scope(node, monkeypatch):
    doc_id = next(node["service"].ledger.documents_by("type", "minutes", limit=1))["doc_id"]
    r = run("get", doc_id, "--node", node["url"])
    assert r.exit_code == 1 and r.output.strip() == ("error: this needs your key: give --key KEY_FILE or set "
                                                     "$MINUTEBOOK_KEY (HTTP 401 unauthenticated)")
    org = node["org"]
    cell = node["service"].ledger.document(doc_id)["doc"]["org"]
    stranger = next(m.member_id for m in org.members if m.unit.startswith("central/") and not m.roles
                    and m.unit != cell and not cell.startswith(m.unit))
    r = run("get", doc_id, "--node", node["url"], "--key", _member_key(node, stranger))
    assert r.exit_code == 1 and "outside your scope" in r.output and "out_of_scope" in r.output
    monkeypatch.setenv("MINUTEBOOK_KEY", _node_key(node["dir"]))
    assert run("get", doc_id, "--node", node["url"]).exit_code == 0  # $MINUTEBOOK_KEY signs too
    r = run("whoami", "--node", node["url"])
    assert r.exit_code == 0 and r.output.splitlines() == ["node n1 (by signature)", "scope: node n1: everything"]


def test_confidential_submit_then_open(node, tmp_path):
    f = tmp_path / "secret.yaml"
    f.write_text(_minutes_yaml(node, "secret").replace("text: Họp chuyên đề", "text: Nội dung mật") +
                 "meta: {kind: thematic}\n", encoding="utf-8")
    keys = _officer_keys(node)
    org = node["org"]
    plain = [m.member_id for m in org.members if m.unit == "central/p1/k1/s1" and not m.roles][:2]
    r = run("submit", str(f), "-k", keys[1], "--node", node["url"], "--confidential", "--to", ",".join(plain),
            "--wait")
    assert r.exit_code == 0, r.output
    doc_id = json.loads(r.output)["doc_id"]
    got = json.loads(run("get", doc_id, "--node", node["url"], "--key", keys[1]).output)
    assert got["doc"]["body"]["recipients"] == plain and "Nội dung mật" not in json.dumps(got, ensure_ascii=False)
    assert got["doc"]["body"]["meta"] == {"kind": "thematic"}
    opened = run("open", doc_id, "--node", node["url"], "--key", _member_key(node, plain[0]))
    assert opened.exit_code == 0, opened.output
    assert "commitment OK" in opened.output and '"text": "Nội dung mật"' in opened.output
    r = run("open", doc_id, "--node", node["url"], "--key", keys[1])  # the secretary signed, but is no recipient
    assert r.exit_code == 1 and "recipients only" in r.output
    r = run("submit", str(f), "-k", keys[1], "--node", node["url"], "--to", plain[0])
    assert r.exit_code == 2


def test_submit_json(node, tmp_path):
    import yaml

    doc = yaml.safe_load(_minutes_yaml(node, "json"))
    f = tmp_path / "minutes.json"
    f.write_text(json.dumps(doc, default=lambda dt: int(dt.timestamp() * 1000)))
    keys = _officer_keys(node)
    r = run("submit", str(f), "-k", keys[0], "-k", keys[1], "--node", node["url"])
    assert r.exit_code == 0, r.output
    doc_id, status = r.output.split()[:2]
    assert len(doc_id) == 64 and status == "pending"


def test_missing_key_file_is_one_line_exit_2(node, tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text(_minutes_yaml(node, "nokey"))
    r = run("submit", str(f), "--key", str(tmp_path / "nope.json"), "--node", node["url"])
    assert r.exit_code == 2
    assert r.output.strip() == f"error: no such key file: {tmp_path / 'nope.json'}"


def test_bad_yaml_names_the_line(node, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("type: minutes\norg: [unclosed\nbody: {}\n")
    r = run("submit", str(f), "--key", _officer_keys(node)[0], "--node", node["url"])
    assert r.exit_code == 2
    assert r.output.startswith("error: bad.yaml is not valid YAML at line") and len(r.output.splitlines()) == 1
    assert "Traceback" not in r.output


def test_document_rule_broken_names_the_field(node, tmp_path):
    f = tmp_path / "float.yaml"
    f.write_text(_minutes_yaml(node, "float").replace("text: Họp chuyên đề", "text: Họp\n  quorum: 0.5"))
    r = run("submit", str(f), "--key", _officer_keys(node)[0], "--node", node["url"])
    assert r.exit_code == 2 and "body.quorum" in r.output


def test_unreachable_node_exit_3(node, tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text(_minutes_yaml(node, "unreachable"))
    keys = _officer_keys(node)
    port = free_port()
    r = run("submit", str(f), "-k", keys[0], "-k", keys[1], "--node", f"http://127.0.0.1:{port}")
    assert r.exit_code == 3
    assert r.output.startswith(f"error: cannot reach http://127.0.0.1:{port}") and "Traceback" not in r.output


def test_refused_by_the_node_exit_1(node, tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text(_minutes_yaml(node, "refused"))
    plain = next(m.member_id for m in node["org"].members if m.unit == "central/p1/k1/s1" and not m.roles)
    r = run("submit", str(f), "-k", str(node["dir"] / "keys" / "members" / f"{plain}.json"), "--node", node["url"])
    assert r.exit_code in (1, 2) and r.output.startswith("error: ") and "HTTP 4" in r.output


def test_stats_table(node):
    org = node["org"]
    r = run("stats", "central/p1", "--node", node["url"], "--key", _member_key(node, org._officer("central/p1")))
    assert r.exit_code == 0, r.output
    assert "meetings held" in r.output and "Huyện" in r.output and "own" in r.output
    assert "attendance against the roll" in r.output and "attendance against the list" in r.output
    assert "inspection findings" not in r.output  # a secretary's stats hold no findings
    inspector = _member_key(node, org._officer("central/p1", "inspector"))
    assert "inspection findings" in run("stats", "central/p1", "--node", node["url"], "--key", inspector).output
    r = run("stats", "central", "--json", "--node", node["url"], "--key", _member_key(node, org._officer("central")))
    assert json.loads(r.output)["units"]["total"] == 19


# -- audit ---------------------------------------------------------------------


def test_audit_passes_then_catches_a_tampered_envelope_and_a_fork(tmp_path):
    org = SampleOrg(seed=7, anchor_ms=ANCHOR)
    clock = ANCHOR + 60_000  # one clock for all three: the same blocks, byte for byte
    genesis, good = loaded_service(org, phases=5, start_ms=clock)
    _, twin = loaded_service(org, phases=5, start_ms=clock)
    _, other = loaded_service(org, phases=4, start_ms=clock)  # same first blocks, then a different block 5
    other.apply([sign_document(org.phases()[5][1][0][0], [(m, org.seed_of(m)) for m in org.phases()[5][1][0][1]])])
    g = tmp_path / "genesis.json"
    g.write_text(json.dumps(genesis))
    key = _node_key(tmp_path)
    with serve(good) as u1, serve(twin) as u2:
        r = run("audit", "--genesis", str(g), "--node", u1, "--node", u2)
        assert r.exit_code == 2 and "give --key" in r.output  # envelopes are content
        r = run("audit", "--genesis", str(g), "--node", u1, "--node", u2, "--key", key)
        assert r.exit_code == 0, r.output
        assert f"OK {u1}: 5 blocks" in r.output
        # alter one envelope's bytes in the twin's store (as a rewritten LevelDB value would be)
        store = twin.ledger.store
        key, value = next(iter(store.scan(b"l/", start=b"l/" + (7).to_bytes(8, "big"))))
        tampered = bytearray(value)
        tampered[-1] ^= 1
        store.write({key: bytes(tampered)})
        r = run("audit", "--genesis", str(g), "--node", u1, "--node", u2, "--key", _node_key(tmp_path))
        assert r.exit_code == 1
        assert f"FAILED {u2} height 3 tx_root:" in r.output
    with serve(good) as u1, serve(other) as u3:
        r = run("audit", "--genesis", str(g), "--node", u1, "--node", u3, "--key", _node_key(tmp_path))
        assert r.exit_code == 1
        assert f"FAILED {u1} vs {u3} height 5 fork:" in r.output


def test_audit_local_reads_a_stopped_nodes_leveldb(tmp_path):
    import plyvel

    from ledger.store import LevelDBStore

    org = SampleOrg(seed=7, anchor_ms=ANCHOR)
    data = tmp_path / "data" / "n1"
    (data / "ledger").mkdir(parents=True)
    store = LevelDBStore(str(data / "ledger"), create=True)
    genesis, _ = loaded_service(org, phases=4, store=store)
    g = tmp_path / "genesis.json"
    g.write_text(json.dumps(genesis))
    store.close()
    r = run("audit", "--genesis", str(g), "--local", str(data))
    assert r.exit_code == 0, r.output
    assert f"OK local:{data}: 4 blocks" in r.output
    # a value rewritten through the store: its checksum holds, the replay catches it
    store = LevelDBStore(str(data / "ledger"), create=False)
    key, value = next(iter(store.scan(b"l/", start=b"l/" + (3).to_bytes(8, "big"))))
    store.write({key: value[:-1] + bytes([value[-1] ^ 1])})
    store.close()
    r = run("audit", "--genesis", str(g), "--local", str(data))
    assert r.exit_code == 1 and f"FAILED local:{data} height 2 tx_root:" in r.output
    # a byte flipped under the store: the checksum catches it
    db = plyvel.DB(str(data / "ledger"))
    raw_key = next(k for k, _ in db.iterator(prefix=b"dl/"))
    stored = db.get(raw_key)
    db.put(raw_key, stored[:-1] + bytes([stored[-1] ^ 2]))
    db.close()
    r = run("audit", "--genesis", str(g), "--local", str(data))
    assert r.exit_code == 1 and f"FAILED local:{data} height 0 store:" in r.output and "checksum" in r.output


def test_devnet_sample_load_through_the_api_resumes(tmp_path):
    """devnet up's loading step against one served node: everything commits,
    and a second load (a resumed devnet) finds every document committed."""
    from client.cli_devnet import init_cluster, load_sample
    from ledger.keys import read_key_file

    d = tmp_path / "dn"
    init_cluster(d, nodes=3, base_port=devnet_base_port(3), now_ms=ANCHOR)
    genesis = json.loads((d / "genesis.json").read_text())
    seeds = {n: read_key_file(d / "keys" / f"{n}.json").seed for n in ("n1", "n2", "n3")}
    # The double's clock reads now: the example is signed with the real clock at the end, and a
    # leader refuses a document created more than the clock bound ahead of its own clock.
    service = ServiceDouble(genesis, seeds, start_ms=int(time.time() * 1000))
    with serve(service) as url:
        first = load_sample(d, url, quiet=True)
        duplicates = len(first["refused_as_expected"])  # the duplicate attempt, where the ledger has the rule
        assert first["refused"] == [] and first["committed"] == first["documents"] - duplicates > 400
        again = load_sample(d, url, quiet=True)
        assert again["already_committed"] == first["committed"] and again["committed"] == 0
        assert again["refused"] == [] and len(again["refused_as_expected"]) == duplicates
        example = (d / "examples" / "resolution.yaml").read_text()
        key = example.split("--key ")[1].split()[0]
        r = run("submit", str(d / "examples" / "resolution.yaml"), "--key", str(d / key), "--node", url, "--wait")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["leaf_index"] == first["committed"]
    members = json.loads((d / "members.json").read_text())
    m = next(x for x in members if x["member_id"] == "m0005")
    assert read_key_file(d / m["key_file"]).id == "m0005"


def _commands(group, prefix=()):
    import click

    for name, cmd in sorted(group.commands.items()):
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))


def test_every_command_of_ours_has_help_with_an_example():
    ours = {"init", "devnet", "keys", "sign", "submit", "outbox", "get", "receipt", "audit", "stats", "import",
            "export", "member", "list", "views"}
    seen = set()
    for path, _ in _commands(main):
        if path[0] not in ours:
            continue
        seen.add(path[0])
        r = run(*path, "--help")
        assert r.exit_code == 0 and "Example" in r.output, path
    assert seen == ours


def test_devnet_down_without_a_devnet(tmp_path):
    r = run("devnet", "down", "--dir", str(tmp_path))
    assert r.exit_code == 1 and r.output.startswith("error: no devnet runs from")


def test_node_start_with_bad_configuration_is_one_line_exit_2(tmp_path):
    """A node that cannot start says why in one line on stderr (no trace) and exits 2."""
    import subprocess
    import sys

    assert run("init", "--dir", str(tmp_path / "d"), "--nodes", "1", "--base-port",
               str(devnet_base_port(1))).exit_code == 0
    good = tmp_path / "d" / "nodes" / "n1.toml"
    missing = tmp_path / "missing.toml"
    missing.write_text('node_id = "n1"\nkey_file = "k.json"\n')
    broken = tmp_path / "broken.toml"
    broken.write_text("node_id = [\n")
    bad_genesis = tmp_path / "d" / "genesis.json"
    cases = [(missing, "genesis: required string setting"), (broken, "is not valid TOML")]
    for config, expected in cases:
        proc = subprocess.run([sys.executable, "-m", "client.cli", "node", "start", "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and expected in proc.stderr
    bad_genesis.write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "node", "--config", str(good)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad_genesis}: chain_id: missing required field" in proc.stderr
