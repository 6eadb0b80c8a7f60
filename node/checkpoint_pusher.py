"""Push this ledger's checkpoints to its witnesses and keep their cosignatures
(the log's side of c2sp.org/tlog-witness).

Theory of operation
-------------------
Every node of a ledger with ``[[witnessed_by]]`` in node.toml runs one
:class:`CheckpointPusher`. Each ``checkpoints.push_interval_ms`` it takes the
latest checkpoint a strict majority of the voters signed and, for each
witness whose last cosignature is of a smaller tree (or older than
:data:`REFRESH_SECONDS`, so the kept cosignature stays fresh), posts
``old <size>``, the RFC 9162 consistency proof from that size, a blank line
and the checkpoint (the voters' lines only) to ``<url>/add-checkpoint``.

It keeps, per witness, the size it believes the witness cosigned last, 0 at
start. A 409 answer carries the witness's real size (text/x.tlog.size): the
pusher takes it and retries at once if it is not beyond its own tree (the
spec's discovery). A witness that knows a larger tree than this node is
ahead of it (this node is catching up) and is retried next round. A 200
answer's lines are kept if they verify as cosignatures (type 0x04) of
exactly this checkpoint under the witness keys configured for it
(``CheckpointLog.add_cosignature``, fsynced on the disk thread); lines of
other keys are ignored, as the spec tells clients. A cosignature our own
disk refuses to store (``StoreWriteError``) ends the task, and the runtime
stops the node as for any write it cannot make. Anything else (403, 422,
a refused connection) is logged and retried after a back-off that doubles
from one round up to :data:`MAX_BACKOFF_SECONDS`; a 422 means the witness
holds a checkpoint of this origin that this ledger's tree does not extend,
which is logged at ERROR.

Every node pushes on its own, so cosignatures reach every node's
``GET /checkpoint`` without another peer frame; a witness answers the
repeats of a checkpoint it has already cosigned with a fresh cosignature.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ledger.checkpoint import CheckpointLog
from ledger.errors import MinutebookError
from ledger.signed_note import NoteSignature, b64std
from ledger.store import StoreWriteError

from .witness import SIZE_MEDIA_TYPE

__all__ = ["CheckpointPusher", "REFRESH_SECONDS", "MAX_BACKOFF_SECONDS", "WitnessView"]

log = logging.getLogger("minutebook.checkpoints")

REFRESH_SECONDS = 300.0
MAX_BACKOFF_SECONDS = 60.0


@dataclass
class WitnessView:
    """What this node knows of one witness."""

    url: str
    keys: tuple
    known_size: int = 0  # the size we believe it cosigned last (0: ask)
    cosigned_size: int = -1  # the largest size it cosigned for us
    cosigned_at: float = 0.0  # monotonic time of that
    last_error: str | None = None
    failures: int = 0  # in a row; the next try waits interval * 2^failures (capped)
    retry_at: float = 0.0  # monotonic time before which it is not tried again


class CheckpointPusher:
    """See the module docstring. `run_disk(fn, *args)` runs a blocking store write off the loop."""

    def __init__(self, checkpoints: CheckpointLog, targets: Any, *, interval: float, run_disk: Any = None,
                 timeout: float = 10.0) -> None:
        self.checkpoints = checkpoints
        self.ledger = checkpoints.ledger
        self.witnesses = [WitnessView(url=t.url, keys=tuple(t.keys)) for t in targets]
        self.interval = interval
        self.run_disk = run_disk
        self.timeout = timeout
        self._http: httpx.AsyncClient | None = None

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.push_once()
                except MinutebookError:  # bad input from a witness or a proof we cannot make: next round
                    log.exception("pushing the checkpoint failed")
                await asyncio.sleep(self.interval)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def push_once(self) -> None:
        """One round: push the latest signed checkpoint to every witness that is due."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout)
        height = self.checkpoints.latest_signed()
        if height == 0:
            return
        for witness in self.witnesses:
            if time.monotonic() < witness.retry_at:
                continue
            try:
                await self._push(witness, height)
            except StoreWriteError:  # our own disk refused a cosignature: the runtime stops the node
                raise
            except (httpx.HTTPError, OSError) as exc:
                witness.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("witness %s unreachable: %s", witness.url, witness.last_error)
            if witness.last_error is None:
                witness.failures, witness.retry_at = 0, 0.0
            else:
                witness.failures += 1
                witness.retry_at = time.monotonic() + min(MAX_BACKOFF_SECONDS,
                                                          self.interval * 2 ** min(witness.failures, 16))

    def _due(self, witness: WitnessView, size: int) -> bool:
        return size > witness.cosigned_size or time.monotonic() - witness.cosigned_at > REFRESH_SECONDS

    async def _push(self, witness: WitnessView, height: int) -> None:
        checkpoint = self.checkpoints.checkpoint(height)
        size = checkpoint.size
        if not self._due(witness, size):
            return
        note = self.checkpoints.note(height, cosigned=False)
        for _ in range(2):  # a 409 teaches the witness's size; then one more try
            old = witness.known_size
            if old > size:
                witness.last_error = f"the witness cosigned size {old}; this node's tree has {size} leaves"
                log.info("witness %s is ahead of this node (%d > %d); later", witness.url, old, size)
                return
            proof = [] if old in (0, size) else [bytes.fromhex(h) for h in
                                                 self.ledger.consistency_proof(old, size)["proof"]]
            body = f"old {old}\n".encode() + b"".join(b64std(h).encode() + b"\n" for h in proof) + b"\n" + note
            response = await self._http.post(witness.url + "/add-checkpoint", content=body,
                                             headers={"content-type": "text/plain; charset=utf-8"})
            if response.status_code == 409 and response.headers.get("content-type") == SIZE_MEDIA_TYPE:
                try:
                    witness.known_size = int(response.text.strip())
                except ValueError:
                    witness.last_error = f"409 with a size that is no number: {response.text[:40]!r}"
                    return
                continue
            if response.status_code != 200:
                witness.last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                level = logging.ERROR if response.status_code == 422 else logging.WARNING
                log.log(level, "witness %s refused the checkpoint of size %d: %s", witness.url, size,
                        witness.last_error)
                return
            kept = await self._keep(witness, checkpoint, response.text)
            witness.known_size = size
            if kept:
                witness.cosigned_size, witness.cosigned_at, witness.last_error = size, time.monotonic(), None
            else:
                witness.last_error = "200 without a cosignature from the configured witness keys"
                log.warning("witness %s answered without a valid cosignature of size %d", witness.url, size)
            return

    async def _keep(self, witness: WitnessView, checkpoint: Any, text: str) -> int:
        kept = 0
        for line in text.split("\n"):
            if not line:
                continue
            try:
                signature = NoteSignature.from_line(line)
            except MinutebookError:
                continue
            for key in witness.keys:
                if signature.matches(key):
                    args = (checkpoint.size, checkpoint.root_hash, signature, key)
                    ok = (await self.run_disk(self.checkpoints.add_cosignature, *args) if self.run_disk
                          else self.checkpoints.add_cosignature(*args))
                    kept += bool(ok)
        return kept
