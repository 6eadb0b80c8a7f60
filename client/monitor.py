"""A monitor: follow a ledger's checkpoints from its nodes and witnesses, and
catch a fork with the evidence.

Theory of operation
-------------------
Each round the monitor fetches the checkpoint every source serves (a ledger
node's ``GET /checkpoint``, a witness's ``GET /<origin hash>/checkpoint``) and
verifies it: the origin it follows, signed by at least ``required`` of the
log's verifier keys, and cosigned by every witness key it was given. Then it
compares each verified checkpoint with the last one it accepted (its
*state*), smallest tree first:

- same size: the roots must be equal; two signed checkpoints of one size
  with different roots are a fork by themselves (no proof could join them);
- another size: an RFC 9162 consistency proof between the two sizes is
  fetched from the ledger nodes (``GET /v1/proofs/consistency``) and checked
  against both roots. If one verifies, the larger checkpoint becomes the
  state. If every node that answered gave a proof that fails, the two signed
  checkpoints and the failed proofs are the evidence of a fork. A node that
  cannot answer (down, or its tree too small) is no evidence either way.

On a fork the monitor writes the evidence (JSON, below) and exits 1. The
state is written before a round is reported good, atomically (temporary
file, fsync, rename, fsync of the folder), so a restarted monitor checks the
next checkpoint against the last one it accepted: no gap goes unchecked.

State file (JSON)::

    {"version": 1, "origin": "<origin>", "checkpoint": "<the signed note accepted last>",
     "source": "<where it came from>", "accepted_at": <unix ms>}

Evidence (JSON, on stdout and in ``<state>.fork.json``)::

    {"fork": true, "origin": "...", "reason": "...",
     "checkpoints": [{"source": "...", "checkpoint": "<signed note>"}, {"source": ..., "checkpoint": ...}],
     "proofs": [{"source": "...", "first": M, "second": N, "proof": ["<hex>", ...], "error": "..."}]}
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import httpx

from ledger.checkpoint import Checkpoint, VerifiedCheckpoint, verify_checkpoint, witnessed_path
from ledger.errors import InvalidInput, MinutebookError
from ledger.signed_note import VerifierKey
from ledger.files import write_atomically

from .verify import verify_consistency_proof

__all__ = ["Source", "Observation", "ForkEvidence", "Monitor", "MonitorState", "MonitorStateError"]

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Source:
    """Where checkpoints come from: a ledger node (it also serves proofs) or a witness."""

    url: str
    kind: str  # "ledger" | "witness"


@dataclass(frozen=True, slots=True)
class Observation:
    source: Source
    verified: VerifiedCheckpoint | None = None
    note: str | None = None
    problem: str | None = None  # why nothing usable came from the source


@dataclass
class ForkEvidence(Exception):
    """Two signed checkpoints of one origin that no consistency proof joins."""

    origin: str
    reason: str
    checkpoints: list[tuple[str, str]]  # (source, signed note)
    proofs: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"fork": True, "origin": self.origin, "reason": self.reason,
                "checkpoints": [{"source": s, "checkpoint": n} for s, n in self.checkpoints],
                "proofs": self.proofs}

    def __str__(self) -> str:
        return f"FORK of {self.origin}: {self.reason}"


@dataclass(frozen=True, slots=True)
class MonitorState:
    origin: str
    note: str
    source: str
    accepted_at: int

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.from_text(self.note.split("\n\n")[0] + "\n")

    def to_json(self) -> dict:
        return {"version": STATE_VERSION, "origin": self.origin, "checkpoint": self.note, "source": self.source,
                "accepted_at": self.accepted_at}


def write_state_file(path: Path, text: str) -> None:
    """Write `text` to `path` durably (ledger.files.write_atomically), making its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text.encode("utf-8"))


class Monitor:
    """See the module docstring. `get(url) -> httpx.Response` fetches (tests may pass their own)."""

    def __init__(self, *, origin: str, keys: Iterable[VerifierKey], sources: Iterable[Source], state_path: Path,
                 required: int | None = None, witness_keys: Iterable[VerifierKey] = (),
                 get: Callable[[str], Any] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.origin = origin
        self.keys = tuple(keys)
        self.required = required
        self.witness_keys = tuple(witness_keys)
        self.sources = tuple(sources)
        self.state_path = Path(state_path)
        self.clock = clock
        self._client = httpx.Client(timeout=10.0) if get is None else None
        self._get = get or self._client.get
        self.state = self._load()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- state ---------------------------------------------------------------------------

    def _load(self) -> MonitorState | None:
        try:
            obj = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise MonitorStateError(f"cannot read the monitor state {self.state_path}: {exc}") from None
        try:
            if obj.get("version") != STATE_VERSION:
                raise ValueError(f"version {obj.get('version')!r}, expected {STATE_VERSION}")
            state = MonitorState(origin=obj["origin"], note=obj["checkpoint"], source=obj["source"],
                                 accepted_at=obj["accepted_at"])
            if state.origin != self.origin:
                raise ValueError(f"it follows {state.origin!r}, not {self.origin!r}")
            state.checkpoint  # noqa: B018 -- parses (its signatures were verified when it was accepted)
        except (KeyError, TypeError, ValueError, MinutebookError) as exc:
            raise MonitorStateError(f"the monitor state {self.state_path} is unusable: {exc}") from None
        return state

    def _save(self, note: str, source: str) -> None:
        state = MonitorState(origin=self.origin, note=note, source=source, accepted_at=int(self.clock() * 1000))
        write_state_file(self.state_path, json.dumps(state.to_json(), indent=2) + "\n")
        self.state = state

    # -- one round -------------------------------------------------------------------------

    def _verify(self, note: str) -> VerifiedCheckpoint:
        return verify_checkpoint(note, self.keys, origin=self.origin, required=self.required,
                                 witnesses=self.witness_keys)

    def observe(self, source: Source) -> Observation:
        url = source.url.rstrip("/") + ("/checkpoint" if source.kind == "ledger" else witnessed_path(self.origin))
        try:
            response = self._get(url)
        except httpx.HTTPError as exc:
            return Observation(source, problem=f"unreachable: {type(exc).__name__}: {exc}")
        if response.status_code != 200:
            return Observation(source, problem=f"HTTP {response.status_code} for {url}")
        note = response.text
        try:
            return Observation(source, verified=self._verify(note), note=note)
        except MinutebookError as exc:
            return Observation(source, note=note, problem=f"checkpoint not verified: {exc.message}")

    def _proof(self, first: int, second: int, root_first: bytes, root_second: bytes,
               prefer: Source | None) -> tuple[bool, list[dict]]:
        """Ask the ledger nodes for a proof between the sizes; (verified, the failed answers)."""
        failed = []
        nodes = [s for s in self.sources if s.kind == "ledger"]
        if prefer in nodes:
            nodes.remove(prefer)
            nodes.insert(0, prefer)
        for node in nodes:
            url = f"{node.url.rstrip('/')}/v1/proofs/consistency?first={first}&second={second}"
            try:
                response = self._get(url)
                if response.status_code != 200:
                    continue  # this node cannot answer (its tree is smaller, or it is unwell): no evidence
                proof = response.json()
            except (httpx.HTTPError, ValueError):
                continue
            try:
                verify_consistency_proof(proof, root_first, root_second)
                return True, failed
            except MinutebookError as exc:
                failed.append({"source": node.url, "first": first, "second": second,
                               "proof": proof.get("proof") if isinstance(proof, dict) else proof,
                               "error": exc.message})
        return False, failed

    def round(self) -> list[Observation]:
        """One round over every source (module docstring). Raises ForkEvidence on a fork."""
        observations = [self.observe(s) for s in self.sources]
        usable = sorted((o for o in observations if o.verified is not None),
                        key=lambda o: o.verified.checkpoint.size)
        for obs in usable:
            if self.state is None:
                self._save(obs.note, obs.source.url)
                continue
            mine, theirs = self.state.checkpoint, obs.verified.checkpoint
            pair = [(self.state.source, self.state.note), (obs.source.url, obs.note)]
            if theirs.size == mine.size:
                if theirs.root_hash != mine.root_hash:
                    raise self._fork("two signed checkpoints of the same tree size with different root hashes",
                                     pair)
                continue
            small, large = sorted((mine, theirs), key=lambda c: c.size)
            ok, failed = self._proof(small.size, large.size, small.root_hash, large.root_hash,
                                     obs.source if obs.source.kind == "ledger" else None)
            if ok:
                if theirs.size > mine.size:
                    self._save(obs.note, obs.source.url)
            elif failed:
                raise self._fork(f"no consistency proof joins tree sizes {small.size} and {large.size}: every "
                                 f"node that answered gave one that fails", pair, failed)
        return observations

    def _fork(self, reason: str, checkpoints: list[tuple[str, str]], proofs: list[dict] | None = None) \
            -> ForkEvidence:
        evidence = ForkEvidence(origin=self.origin, reason=reason, checkpoints=checkpoints, proofs=proofs or [])
        write_state_file(self.state_path.with_name(self.state_path.name + ".fork.json"),
                         json.dumps(evidence.to_json(), indent=2, ensure_ascii=False) + "\n")
        return evidence


class MonitorStateError(InvalidInput):
    """The state file cannot be read or does not fit this monitor."""

    def __init__(self, message: str) -> None:
        super().__init__("state", message)
