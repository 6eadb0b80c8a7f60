"""node/config.py's federation settings: [witness], [[witness.logs]],
[[witnessed_by]] and [checkpoints] read back what dump_config wrote, and a bad
one names its field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ledger.errors import InvalidInput
from ledger.keys import public_key
from ledger.signed_note import SIG_COSIGNATURE_V1, VerifierKey
from node.config import (CheckpointSettings, NodeConfig, WitnessedLog, WitnessSettings, WitnessTarget, dump_config,
                         load_config)

LOG_KEYS = tuple(VerifierKey.of("minutebook/p1/0011223344556677", public_key(bytes([i]) * 32)) for i in (1, 2, 3))
COSIGNER = VerifierKey.of("minutebook/central/8899aabbccddeeff/witness/n1", public_key(bytes([9]) * 32),
                          SIG_COSIGNATURE_V1)
BASE = '''node_id = "n1"
key_file = "k.json"
genesis = "g.json"
data_dir = "d"
peer_listen = "127.0.0.1:7101"
api_listen = "127.0.0.1:8101"
'''


def _config(tmp_path: Path) -> NodeConfig:
    return NodeConfig(
        node_id="n1", key_file=tmp_path / "k.json", genesis=tmp_path / "g.json", data_dir=tmp_path / "d",
        peer_listen="127.0.0.1:7101", api_listen="127.0.0.1:8101",
        witness=WitnessSettings(key_file=tmp_path / "w.json", name=COSIGNER.name,
                                logs=(WitnessedLog(origin=LOG_KEYS[0].name, keys=LOG_KEYS, signatures=2),)),
        witnessed_by=(WitnessTarget(url="http://127.0.0.1:8201", keys=(COSIGNER,)),),
        checkpoints=CheckpointSettings(push_interval_ms=250),
    )


def test_round_trip(tmp_path):
    cfg = _config(tmp_path)
    path = tmp_path / "n1.toml"
    path.write_text(dump_config(cfg, relative_to=tmp_path))
    back = load_config(path)
    assert back.witness == replace(cfg.witness, key_file=(tmp_path / "w.json").resolve())
    assert back.witnessed_by == cfg.witnessed_by and back.checkpoints.push_interval_ms == 250


def test_defaults(tmp_path):
    path = tmp_path / "n.toml"
    path.write_text(BASE + f'[witness]\nkey_file = "w.json"\n[[witness.logs]]\norigin = "{LOG_KEYS[0].name}"\n'
                           f'keys = [{", ".join(repr(k.text).replace(chr(39), chr(34)) for k in LOG_KEYS)}]\n')
    cfg = load_config(path)
    assert cfg.witness.name is None and cfg.witness.logs[0].signatures == 2  # a strict majority of 3
    assert cfg.witnessed_by == () and cfg.checkpoints.push_interval_ms == 1000
    assert load_config(_write(tmp_path, BASE)).witness is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


LOG = f'[[witness.logs]]\norigin = "{LOG_KEYS[0].name}"\nkeys = ["{LOG_KEYS[0].text}"]\n'


@pytest.mark.parametrize("extra, field", [
    ('[witness]\nname = "x"\n', "witness.key_file"),
    ('[witness]\nkey_file = "w.json"\nname = "a b"\n', "witness.name"),
    ('[witness]\nkey_file = "w.json"\ncolour = 1\n', "witness.colour"),
    ('[witness]\nkey_file = "w.json"\n[[witness.logs]]\nkeys = []\n', "witness.logs[0].origin"),
    ('[witness]\nkey_file = "w.json"\n[[witness.logs]]\norigin = "o"\nkeys = []\n', "witness.logs[0].keys"),
    ('[witness]\nkey_file = "w.json"\n[[witness.logs]]\norigin = "o"\nkeys = ["nope"]\n', "witness.logs[0].keys[0]"),
    (f'[witness]\nkey_file = "w.json"\n[[witness.logs]]\norigin = "o"\nkeys = ["{COSIGNER.text}"]\n',
     "witness.logs[0].keys[0]"),
    ('[witness]\nkey_file = "w.json"\n' + LOG + "signatures = 2\n", "witness.logs[0].signatures"),
    ('[witness]\nkey_file = "w.json"\n' + LOG + LOG, "witness.logs[1].origin"),
    ('[[witnessed_by]]\nurl = "ftp://x"\n', "witnessed_by[0].url"),
    (f'[[witnessed_by]]\nurl = "http://x"\nkeys = ["{LOG_KEYS[0].text}"]\n', "witnessed_by[0].keys[0]"),
    ('[checkpoints]\npush_interval_ms = 1\n', "checkpoints.push_interval_ms"),
    ('[checkpoints]\nspeed = 1\n', "checkpoints.speed"),
])
def test_bad_federation_settings_name_the_field(tmp_path, extra, field):
    with pytest.raises(InvalidInput) as info:
        load_config(_write(tmp_path, BASE + extra))
    assert info.value.field == field, info.value


def test_a_node_whose_cosigner_key_is_its_node_key_does_not_start(tmp_path, capsys):
    """signed-note: one key, one signature type. The node says so in one line and exits 2."""
    import json

    from ledger.keys import write_key_file
    from node.serve import run_node
    from tests.ledger.ledger_builder import NODE_SEEDS, sample_world

    write_key_file(tmp_path / "k.json", id_field="node_id", id="n1", seed=NODE_SEEDS["n1"])
    (tmp_path / "g.json").write_text(json.dumps(sample_world().genesis), encoding="utf-8")
    from tests.ports import free_port
    path = _write(tmp_path, BASE.replace("7101", str(free_port())).replace("8101", str(free_port()))
                  + '[witness]\nkey_file = "k.json"\n' + LOG)
    assert run_node(str(path)) == 2
    err = capsys.readouterr().err
    assert "witness.key_file" in err and "must not be the node key" in err and len(err.strip().splitlines()) == 1
