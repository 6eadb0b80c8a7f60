"""``[access]`` in node.toml (node/config.py): it reads back what dump_config
wrote, bad settings name the field, and the settings change what the node does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ledger.errors import InvalidInput
from node.config import AccessSettings, NodeConfig, dump_config, load_config

from .conftest import build_world


def _base(tmp_path: Path) -> NodeConfig:
    return NodeConfig(node_id="n1", key_file=tmp_path / "k.json", genesis=tmp_path / "g.json",
                      data_dir=tmp_path / "d", peer_listen="127.0.0.1:7101", api_listen="127.0.0.1:8101")


def test_access_settings_round_trip(tmp_path):
    cfg = replace(_base(tmp_path), access=AccessSettings(clock_skew_s=5, public_types=("resolution",),
                                                         public_metrics=True, read_log="reads.jsonl",
                                                         read_log_fsync="never"))
    path = tmp_path / "n1.toml"
    path.write_text(dump_config(cfg, relative_to=tmp_path))
    back = load_config(path).access
    assert back.clock_skew_s == 5 and back.public_types == ("resolution",) and back.public_metrics
    assert back.read_log == str(tmp_path.resolve() / "reads.jsonl") and back.read_log_fsync == "never"
    path.write_text(dump_config(_base(tmp_path), relative_to=tmp_path))
    assert "[access]" not in path.read_text() and load_config(path).access == AccessSettings()


@pytest.mark.parametrize("text, field", [
    ("[access]\nclock_skew_s = -1", "access.clock_skew_s"),
    ("[access]\nmax_window_s = 0", "access.max_window_s"),
    ('[access]\npublic_types = ["minutes", "gossip"]', "access.public_types[1]"),
    ('[access]\npublic_types = "resolution"', "access.public_types"),
    ("[access]\npublic_metrics = 1", "access.public_metrics"),
    ('[access]\nread_log_fsync = "sometimes"', "access.read_log_fsync"),
    ("[access]\nsecret = 1", "access.secret"),
])
def test_bad_access_settings_name_the_field(tmp_path, text, field):
    path = tmp_path / "n1.toml"
    path.write_text(dump_config(_base(tmp_path), relative_to=tmp_path) + text + "\n")
    with pytest.raises(InvalidInput) as failed:
        load_config(path)
    assert failed.value.field == field


def test_public_metrics_opens_metrics_only():
    class Config:
        access = AccessSettings(public_metrics=True)

    w = build_world(Config())
    assert w.client(None).get("/metrics").status_code == 200
    assert w.client(None).get("/v1/members/m0012").status_code == 401


def test_a_shorter_window_is_enforced():
    import httpx

    from client.signing import RequestSigner
    from tests.node.service_double import key_file

    class Config:
        access = AccessSettings(max_window_s=30)

    w = build_world(Config())
    request = httpx.Request("GET", "http://testserver/v1/members/m0012")
    RequestSigner(key_file("m0012", w.org.seed_of("m0012"))).sign(request)  # the SDK's 60 s
    r = w.client(None).get("/v1/members/m0012", headers=dict(request.headers))
    assert r.status_code == 401 and "at most 30 s" in r.json()["message"]
