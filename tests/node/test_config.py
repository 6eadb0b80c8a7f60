"""node/config.py: a config written by dump_config reads back the same; bad settings name the field."""

from pathlib import Path

import pytest

from ledger.errors import InvalidInput
from node.config import NodeConfig, PeerConfig, RaftSettings, dump_config, load_config


def _config(tmp_path: Path) -> NodeConfig:
    return NodeConfig(
        node_id="n1",
        key_file=tmp_path / "keys" / "n1.json",
        genesis=tmp_path / "genesis.json",
        data_dir=tmp_path / "data" / "n1",
        peer_listen="127.0.0.1:7101",
        api_listen="127.0.0.1:8101",
        peers=(PeerConfig(node_id="n2", peer_addr="127.0.0.1:7102", api_url="http://127.0.0.1:8102"),),
        raft=RaftSettings(tick_ms=50),
    )


def test_round_trip(tmp_path):
    cfg = _config(tmp_path)
    path = tmp_path / "n1.toml"
    path.write_text(dump_config(cfg, relative_to=tmp_path))
    assert 'key_file = "keys/n1.json"' in path.read_text()
    back = load_config(path)
    assert back.node_id == "n1"
    assert back.key_file == (tmp_path / "keys" / "n1.json").resolve()
    assert back.peers == cfg.peers
    assert back.raft.tick_ms == 50
    assert back.api_host_port == ("127.0.0.1", 8101)


@pytest.mark.parametrize(
    "text, field",
    [
        ('node_id = "n1"', "key_file"),
        ('node_id = "n1"\nkey_file="k"\ngenesis="g"\ndata_dir="d"\npeer_listen="x"\napi_listen="127.0.0.1:1"',
         "peer_listen"),
        ('node_id = "n1"\nkey_file="k"\ngenesis="g"\ndata_dir="d"\npeer_listen="h:1"\napi_listen="h:2"\n'
         "[raft]\ntick_ms = 0", "raft.tick_ms"),
        ('node_id = "n1"\nkey_file="k"\ngenesis="g"\ndata_dir="d"\npeer_listen="h:1"\napi_listen="h:2"\n'
         "[raft]\ntick = 5", "raft.tick"),
        ('node_id = "n1"\nbogus = 1', "bogus"),
        ('node_id = "n1"\nkey_file="k"\ngenesis="g"\ndata_dir="d"\npeer_listen="h:1"\napi_listen="h:2"\n'
         'display_zone = "Mars/Olympus"', "display_zone"),
        ('node_id = "n1"\nkey_file="k"\ngenesis="g"\ndata_dir="d"\npeer_listen="h:1"\napi_listen="h:2"\n'
         "display_zone = 7", "display_zone"),
        ("node_id = [", "config"),
    ],
)
def test_bad_settings_name_the_field(tmp_path, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as info:
        load_config(path)
    assert info.value.field == field


def test_display_zone_round_trips_and_reaches_the_pages(tmp_path, monkeypatch):
    from dataclasses import replace
    from types import SimpleNamespace

    from node.routes.web import display_zone

    for zone, written in (("Europe/Paris", "Europe/Paris"), (None, None)):
        path = tmp_path / "n1.toml"
        path.write_text(dump_config(replace(_config(tmp_path), display_zone=zone), relative_to=tmp_path))
        back = load_config(path)
        assert back.display_zone == written
    assert display_zone(SimpleNamespace(config=replace(_config(tmp_path), display_zone="Europe/Paris"))) == "Europe/Paris"
    monkeypatch.delenv("MINUTEBOOK_TZ", raising=False)
    assert display_zone(SimpleNamespace(config=_config(tmp_path))) == "Asia/Ho_Chi_Minh"
    monkeypatch.setenv("MINUTEBOOK_TZ", "Asia/Tokyo")
    assert display_zone(SimpleNamespace(config=_config(tmp_path))) == "Asia/Tokyo"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        load_config(tmp_path / "nope.toml")
