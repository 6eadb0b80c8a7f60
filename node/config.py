"""Node configuration: one TOML file per node (`minutebook node start --config node.toml`).

Example (what `minutebook init` writes)::

    node_id = "n1"
    key_file = "keys/n1.json"          # relative paths are relative to this file
    genesis = "genesis.json"
    data_dir = "data/n1"
    peer_listen = "127.0.0.1:7101"     # authenticated peer links (mutual TLS)
    api_listen = "127.0.0.1:8101"      # HTTP API
    display_zone = "Asia/Ho_Chi_Minh"  # optional: the zone the web pages show times in
                                       # (default $MINUTEBOOK_TZ, else Asia/Ho_Chi_Minh)

    [peers.n2]
    peer_addr = "127.0.0.1:7102"
    api_url = "http://127.0.0.1:8102"

    [raft]
    tick_ms = 100                      # one Raft tick
    election_ticks = 10                # election timeout in ticks (randomised up to 2x)
    heartbeat_ticks = 1

    [blocks]
    max_documents = 500                # a block closes at this many documents,
    max_bytes = 4194304                # or this many envelope bytes,
    linger_ms = 0                      # or this long after its first document (0: at once)

    [limits]
    max_request_bytes = 1153434        # HTTP request body limit (1 MiB document + envelope)
    max_batch_bytes = 8388608          # body limit of POST /v1/documents:batch
    max_batch_documents = 1000         # envelopes in one batch
    max_pending_documents = 20000      # admitted, not yet committed: past this, 503 overloaded
    header_timeout_ms = 10000          # a caller's request headers must be in within this
    body_timeout_ms = 60000            # and its body within this after them
    max_connections = 512              # HTTP connections open at once (node/http_limits.py)

    [access]                           # who reads what (node/auth.py, node/scopes.py); all optional
    clock_skew_s = 30                  # slack on each end of a request signature's window
    max_window_s = 300                 # longest created..expires window accepted
    session_s = 900                    # page sessions last this long
    public_types = []                  # document types the public may read, e.g. ["resolution"]
    public_metrics = false             # /metrics without a node key
    read_log = ""                      # log content reads to this file (off when empty)
    read_log_fsync = "always"          # "always" (fsync before answering) or "never"

    [views]                            # read models (views/); all optional
    similarity_threshold = 0.7         # near-duplicate minutes: links at or above this similarity
                                       # (0.5..1; applied when asked, so nodes may differ)

Federation (both optional; node/witness.py and node/checkpoint_pusher.py)::

    [witness]                          # this node witnesses the ledgers below it
    key_file = "keys/n1-witness.json"  # the cosigner's own Ed25519 key, not the node key
    name = "minutebook/central/.../witness/n1"   # cosigner key name (default: this
                                       # ledger's origin + "/witness/" + node_id)

    [[witness.logs]]                   # one per witnessed ledger
    origin = "minutebook/p1/2f0c61a9d85e4b17"
    keys = ["minutebook/p1/2f0c61a9d85e4b17+1a2b3c4d+AXk...", "..."]   # its voters' vkeys
    signatures = 2                     # how many must sign (default: a strict majority)

    [[witnessed_by]]                   # witnesses this ledger's checkpoints are pushed to
    url = "http://127.0.0.1:8201"      # the witness's submission prefix
    keys = ["minutebook/central/.../witness/n1+5e6f7a8b+BNy..."]   # its cosigner vkey(s)

    [checkpoints]
    push_interval_ms = 1000            # push the latest signed checkpoint at most this often
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInput
from ledger.signed_note import SIG_COSIGNATURE_V1, SIG_ED25519, VerifierKey, is_key_name
from ledger.timefmt import DEFAULT_ZONE, zone

__all__ = ["NodeConfig", "PeerConfig", "RaftSettings", "BlockSettings", "AccessSettings", "ViewsSettings",
           "WitnessSettings", "WitnessedLog", "WitnessTarget", "CheckpointSettings", "load_config", "dump_config"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerConfig:
    node_id: str
    peer_addr: str
    api_url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RaftSettings:
    tick_ms: int = 100
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    snapshot_every: int = 10_000  # compact the Raft log after this many applied entries

    def __post_init__(self) -> None:
        if self.tick_ms < 1:
            raise InvalidInput("raft.tick_ms", "expected int >= 1")
        if self.heartbeat_ticks < 1 or self.election_ticks <= self.heartbeat_ticks:
            raise InvalidInput("raft.election_ticks", "expected election_ticks > heartbeat_ticks >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockSettings:
    max_documents: int = 500
    max_bytes: int = 4 << 20
    linger_ms: int = 0

    def __post_init__(self) -> None:
        if self.max_documents < 1:
            raise InvalidInput("blocks.max_documents", "expected int >= 1")
        if self.max_bytes < 1 << 20:
            raise InvalidInput("blocks.max_bytes", "expected int >= 1048576 (one document must fit)")
        if self.linger_ms < 0:
            raise InvalidInput("blocks.linger_ms", "expected int >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessedLog:
    """A ledger this node witnesses: origin, its voters' verifier keys, signatures required."""

    origin: str
    keys: tuple[VerifierKey, ...]
    signatures: int

    def __post_init__(self) -> None:
        if not self.keys:
            raise InvalidInput("keys", f"log {self.origin!r}: at least one verifier key")
        if type(self.signatures) is not int or not 1 <= self.signatures <= len(self.keys):
            raise InvalidInput("signatures", f"log {self.origin!r}: expected an int in 1..{len(self.keys)} "
                                             f"(the keys listed), got {self.signatures!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessSettings:
    key_file: Path
    name: str | None = None  # None: derived from the node's own ledger (node/runtime.py)
    logs: tuple[WitnessedLog, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessTarget:
    """A witness this ledger's checkpoints are pushed to."""

    url: str
    keys: tuple[VerifierKey, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointSettings:
    push_interval_ms: int = 1000

    def __post_init__(self) -> None:
        if self.push_interval_ms < 10:
            raise InvalidInput("checkpoints.push_interval_ms", "expected int >= 10")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessSettings:
    """``[access]``: request signatures, sessions, what the public reads, the read log."""

    clock_skew_s: int = 30         # slack on each end of a signature's window
    max_window_s: int = 300        # expires - created may not exceed this
    replay_capacity: int = 200_000  # nonces kept at most (503 beyond, never forgotten early)
    session_s: int = 900           # a page session lasts this long
    max_sessions: int = 10_000
    challenge_s: int = 120         # a login challenge is good this long, once
    public_types: tuple[str, ...] = ()  # document types the public may read (e.g. "resolution")
    public_metrics: bool = False   # /metrics without a node key (it names frequent readers)
    read_log: str = ""             # a file to log content reads to ("" = off; node/traces.py)
    read_log_fsync: str = "always"  # "always": fsync each entry before the answer; "never": OS buffers

    def __post_init__(self) -> None:
        for name in ("clock_skew_s", "max_window_s", "replay_capacity", "session_s", "max_sessions", "challenge_s"):
            value = getattr(self, name)
            if type(value) is not int or value < (0 if name == "clock_skew_s" else 1):
                raise InvalidInput(f"access.{name}", f"expected a positive integer, got {value!r}")
        if self.read_log_fsync not in ("always", "never"):
            raise InvalidInput("access.read_log_fsync", f"expected 'always' or 'never', got {self.read_log_fsync!r}")
        from ledger.documents import DOC_TYPES

        for i, t in enumerate(self.public_types):
            if t not in DOC_TYPES:
                raise InvalidInput(f"access.public_types[{i}]", f"expected one of {', '.join(DOC_TYPES)}, got {t!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewsSettings:
    """``[views]``: how the node answers questions of the read models (never what they store)."""

    similarity_threshold: float = 0.7  # views/similarity.py DEFAULT_THRESHOLD; LINK_FLOOR..1

    def __post_init__(self) -> None:
        from views.similarity import LINK_FLOOR

        value = self.similarity_threshold
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not LINK_FLOOR <= value <= 1:
            raise InvalidInput("views.similarity_threshold", f"expected a number from {LINK_FLOOR} to 1, got {value!r}")


def _views_section(raw: dict) -> ViewsSettings:
    data = raw.get("views", {})
    if not isinstance(data, dict):
        raise InvalidInput("views", "expected a table")
    known = {f.name for f in fields(ViewsSettings)}
    for key in data:
        if key not in known:
            raise InvalidInput(f"views.{key}", f"unknown setting (known: {', '.join(sorted(known))})")
    return ViewsSettings(**data)


def _access_section(raw: dict, base: Path) -> AccessSettings:
    data = raw.get("access", {})
    if not isinstance(data, dict):
        raise InvalidInput("access", "expected a table")
    kinds = {f.name: f.type for f in fields(AccessSettings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in kinds:
            raise InvalidInput(f"access.{key}", f"unknown setting (known: {', '.join(sorted(kinds))})")
        if key == "public_types":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput("access.public_types", "expected a list of document types")
            value = tuple(value)
        elif key == "public_metrics":
            if not isinstance(value, bool):
                raise InvalidInput("access.public_metrics", f"expected true or false, got {value!r}")
        elif key in ("read_log", "read_log_fsync"):
            if not isinstance(value, str):
                raise InvalidInput(f"access.{key}", f"expected a string, got {value!r}")
            if key == "read_log" and value and not Path(value).is_absolute():
                value = str(base / value)
        elif not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"access.{key}", f"expected an integer, got {value!r}")
        values[key] = value
    return AccessSettings(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    node_id: str
    key_file: Path
    genesis: Path
    data_dir: Path
    peer_listen: str
    api_listen: str
    peers: tuple[PeerConfig, ...] = ()
    raft: RaftSettings = field(default_factory=RaftSettings)
    blocks: BlockSettings = field(default_factory=BlockSettings)
    max_request_bytes: int = (1 << 20) + (1 << 17)
    max_batch_bytes: int = 8 << 20
    max_batch_documents: int = 1000
    # Invariant: documents admitted (202) and not yet in an applied block stay <= this (back-pressure).
    max_pending_documents: int = 20_000
    header_timeout_ms: int = 10_000
    body_timeout_ms: int = 60_000
    max_connections: int = 512
    witness: WitnessSettings | None = None
    witnessed_by: tuple[WitnessTarget, ...] = ()
    checkpoints: CheckpointSettings = field(default_factory=CheckpointSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    views: ViewsSettings = field(default_factory=ViewsSettings)
    display_zone: str | None = None  # IANA zone the web pages show times in (None: $MINUTEBOOK_TZ or Asia/Ho_Chi_Minh)
    source: Path | None = None  # the file this was read from

    @property
    def header_timeout(self) -> float:
        return self.header_timeout_ms / 1000.0

    @property
    def body_timeout(self) -> float:
        return self.body_timeout_ms / 1000.0

    def peer(self, node_id: str) -> PeerConfig | None:
        for p in self.peers:
            if p.node_id == node_id:
                return p
        return None

    @property
    def api_host_port(self) -> tuple[str, int]:
        return split_host_port(self.api_listen, "api_listen")

    @property
    def peer_host_port(self) -> tuple[str, int]:
        return split_host_port(self.peer_listen, "peer_listen")


def split_host_port(addr: str, field_name: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(field_name, f"expected host:port, got {addr!r}")
    return host.strip("[]"), int(port)


def _section(raw: dict, name: str, cls: type) -> Any:
    data = raw.get(name, {})
    if not isinstance(data, dict):
        raise InvalidInput(name, "expected a table")
    known = {f.name for f in fields(cls)}
    for key, value in data.items():
        if key not in known:
            raise InvalidInput(f"{name}.{key}", f"unknown setting (known: {', '.join(sorted(known))})")
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"{name}.{key}", f"expected an integer, got {value!r}")
    return cls(**data)


# [limits] setting -> (default, minimum)
_LIMITS = {
    "max_request_bytes": ((1 << 20) + (1 << 17), 1 << 20),
    "max_batch_bytes": (8 << 20, 1 << 20),
    "max_batch_documents": (1000, 1),
    "max_pending_documents": (20_000, 1),
    "header_timeout_ms": (10_000, 100),
    "body_timeout_ms": (60_000, 100),
    "max_connections": (512, 1),
}


def _vkeys(value: Any, field_name: str, key_type: int) -> tuple[VerifierKey, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidInput(field_name, "expected a non-empty list of verifier keys (<name>+<id>+<key>)")
    keys = tuple(VerifierKey.from_text(v, f"{field_name}[{i}]") for i, v in enumerate(value))
    for i, key in enumerate(keys):
        if key.key_type != key_type:
            kind = "a note key (type 0x01)" if key_type == SIG_ED25519 else "a cosignature key (type 0x04)"
            raise InvalidInput(f"{field_name}[{i}]", f"expected {kind}")
    return keys


def _table(value: Any, field_name: str, known: set[str]) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput(field_name, "expected a table")
    for key in value:
        if key not in known:
            raise InvalidInput(f"{field_name}.{key}", f"unknown setting (known: {', '.join(sorted(known))})")
    return value


def _witness_settings(raw: Any, rel: Any) -> WitnessSettings | None:
    if raw is None:
        return None
    raw = _table(raw, "witness", {"key_file", "name", "logs"})
    key_file = raw.get("key_file")
    if not isinstance(key_file, str) or not key_file:
        raise InvalidInput("witness.key_file", "required string setting")
    name = raw.get("name")
    if name is not None and not is_key_name(name):
        raise InvalidInput("witness.name", "a key name: non-empty, no spaces, no '+'")
    logs = raw.get("logs", [])
    if not isinstance(logs, list):
        raise InvalidInput("witness.logs", "expected [[witness.logs]] tables")
    entries, origins = [], set()
    for i, entry in enumerate(logs):
        where = f"witness.logs[{i}]"
        entry = _table(entry, where, {"origin", "keys", "signatures"})
        origin = entry.get("origin")
        if not isinstance(origin, str) or not origin or "\n" in origin:
            raise InvalidInput(f"{where}.origin", "required: the witnessed ledger's checkpoint origin")
        if origin in origins:
            raise InvalidInput(f"{where}.origin", f"{origin!r} is listed twice")
        origins.add(origin)
        keys = _vkeys(entry.get("keys"), f"{where}.keys", SIG_ED25519)
        try:
            entries.append(WitnessedLog(origin=origin, keys=keys, signatures=entry.get("signatures",
                                                                                       len(keys) // 2 + 1)))
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.{exc.field}", exc.rule) from None
    return WitnessSettings(key_file=rel(key_file), name=name, logs=tuple(entries))


def _witness_targets(raw: Any) -> tuple[WitnessTarget, ...]:
    if not isinstance(raw, list):
        raise InvalidInput("witnessed_by", "expected [[witnessed_by]] tables")
    targets = []
    for i, entry in enumerate(raw):
        where = f"witnessed_by[{i}]"
        entry = _table(entry, where, {"url", "keys"})
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInput(f"{where}.url", "required: the witness's http(s) submission prefix")
        targets.append(WitnessTarget(url=url.rstrip("/"), keys=_vkeys(entry.get("keys"), f"{where}.keys",
                                                                      SIG_COSIGNATURE_V1)))
    return tuple(targets)


def load_config(path: str | Path) -> NodeConfig:
    """Read and check a node.toml; relative paths resolve against its folder."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput("config", f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("config", f"{path} is not valid TOML: {exc}") from None
    base = path.resolve().parent

    def req_str(key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidInput(key, "required string setting")
        return value

    def rel(value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else base / p

    known = {"node_id", "key_file", "genesis", "data_dir", "peer_listen", "api_listen", "peers",
             "raft", "blocks", "limits", "witness", "witnessed_by", "checkpoints", "access", "views",
             "display_zone"}
    for key in raw:
        if key not in known:
            raise InvalidInput(key, f"unknown setting (known: {', '.join(sorted(known))})")
    peers = []
    raw_peers = raw.get("peers", {})
    if not isinstance(raw_peers, dict):
        raise InvalidInput("peers", "expected a table of [peers.<node_id>]")
    for node_id in sorted(raw_peers):
        p = raw_peers[node_id]
        if not isinstance(p, dict) or not isinstance(p.get("peer_addr"), str):
            raise InvalidInput(f"peers.{node_id}.peer_addr", "required string setting")
        split_host_port(p["peer_addr"], f"peers.{node_id}.peer_addr")
        peers.append(PeerConfig(node_id=node_id, peer_addr=p["peer_addr"], api_url=str(p.get("api_url", ""))))
    limits = raw.get("limits", {})
    if not isinstance(limits, dict):
        raise InvalidInput("limits", "expected a table")
    for key in limits:
        if key not in _LIMITS:
            raise InvalidInput(f"limits.{key}", f"unknown setting (known: {', '.join(sorted(_LIMITS))})")

    def limit(key: str) -> int:
        default, minimum = _LIMITS[key]
        value = limits.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise InvalidInput(f"limits.{key}", f"expected an integer >= {minimum}, got {value!r}")
        return value
    display_zone = raw.get("display_zone")
    if display_zone is not None:
        if not isinstance(display_zone, str):
            raise InvalidInput("display_zone", f"expected an IANA time zone name such as {DEFAULT_ZONE}")
        try:
            zone(display_zone)
        except InvalidInput:
            raise InvalidInput("display_zone", f"unknown time zone {display_zone!r} (expected an IANA name such as "
                                               f"{DEFAULT_ZONE})") from None
    cfg = NodeConfig(
        node_id=req_str("node_id"),
        key_file=rel(req_str("key_file")),
        genesis=rel(req_str("genesis")),
        data_dir=rel(req_str("data_dir")),
        peer_listen=req_str("peer_listen"),
        api_listen=req_str("api_listen"),
        peers=tuple(peers),
        raft=_section(raw, "raft", RaftSettings),
        blocks=_section(raw, "blocks", BlockSettings),
        max_request_bytes=limit("max_request_bytes"),
        max_batch_bytes=limit("max_batch_bytes"),
        max_batch_documents=limit("max_batch_documents"),
        max_pending_documents=limit("max_pending_documents"),
        header_timeout_ms=limit("header_timeout_ms"),
        body_timeout_ms=limit("body_timeout_ms"),
        max_connections=limit("max_connections"),
        witness=_witness_settings(raw.get("witness"), rel),
        witnessed_by=_witness_targets(raw.get("witnessed_by", [])),
        checkpoints=_section(raw, "checkpoints", CheckpointSettings),
        access=_access_section(raw, base),
        views=_views_section(raw),
        display_zone=display_zone,
        source=path,
    )
    cfg.api_host_port  # noqa: B018  -- validates
    cfg.peer_host_port  # noqa: B018
    return cfg


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dump_config(cfg: NodeConfig, relative_to: Path | None = None) -> str:
    """TOML text for `cfg` (paths written relative to `relative_to` when inside it)."""

    def p(path: Path) -> str:
        if relative_to is not None:
            try:
                return str(Path(path).resolve().relative_to(relative_to.resolve()))
            except ValueError:
                pass
        return str(path)

    lines = [
        f"node_id = {_toml_str(cfg.node_id)}",
        f"key_file = {_toml_str(p(cfg.key_file))}",
        f"genesis = {_toml_str(p(cfg.genesis))}",
        f"data_dir = {_toml_str(p(cfg.data_dir))}",
        f"peer_listen = {_toml_str(cfg.peer_listen)}",
        f"api_listen = {_toml_str(cfg.api_listen)}",
        "",
    ]
    for peer in cfg.peers:
        lines += [f"[peers.{peer.node_id}]", f"peer_addr = {_toml_str(peer.peer_addr)}",
                  f"api_url = {_toml_str(peer.api_url)}", ""]
    for name, section in (("raft", cfg.raft), ("blocks", cfg.blocks)):
        lines.append(f"[{name}]")
        lines += [f"{f.name} = {getattr(section, f.name)}" for f in fields(section)]
        lines.append("")
    if cfg.display_zone is not None:
        lines[6:6] = [f"display_zone = {_toml_str(cfg.display_zone)}"]
    lines.append("[limits]")
    lines += [f"{key} = {getattr(cfg, key)}" for key in _LIMITS]
    lines.append("")
    lines += ["[checkpoints]", f"push_interval_ms = {cfg.checkpoints.push_interval_ms}", ""]
    if cfg.witness is not None:
        lines += ["[witness]", f"key_file = {_toml_str(p(cfg.witness.key_file))}"]
        if cfg.witness.name is not None:
            lines.append(f"name = {_toml_str(cfg.witness.name)}")
        lines.append("")
        for entry in cfg.witness.logs:
            lines += ["[[witness.logs]]", f"origin = {_toml_str(entry.origin)}",
                      "keys = [" + ", ".join(_toml_str(k.text) for k in entry.keys) + "]",
                      f"signatures = {entry.signatures}", ""]
    for target in cfg.witnessed_by:
        lines += ["[[witnessed_by]]", f"url = {_toml_str(target.url)}",
                  "keys = [" + ", ".join(_toml_str(k.text) for k in target.keys) + "]", ""]
    if cfg.access != AccessSettings():
        default = AccessSettings()
        lines.append("[access]")
        for f in fields(AccessSettings):
            value = getattr(cfg.access, f.name)
            if value == getattr(default, f.name):
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = _toml_str(value)
            elif isinstance(value, tuple):
                text = "[" + ", ".join(_toml_str(v) for v in value) + "]"
            else:
                text = str(value)
            lines.append(f"{f.name} = {text}")
        lines.append("")
    if cfg.views != ViewsSettings():
        lines += ["[views]", f"similarity_threshold = {cfg.views.similarity_threshold!r}", ""]
    return "\n".join(lines)
