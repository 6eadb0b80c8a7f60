"""TEST DOUBLE: a node that serves a witness (node/witness.py) beside a bare
ledger (tests/node/service_double.py), for HTTP tests of the tlog-witness
routes and of pushers; no Raft, no peers."""

from __future__ import annotations

from node.witness import Witness
from tests.node.service_double import ServiceDouble


class WitnessNode(ServiceDouble):
    """A ServiceDouble whose `witness` answers /add-checkpoint."""

    def __init__(self, witness: Witness, genesis: dict, node_seeds: dict | None = None, **kwargs) -> None:
        super().__init__(genesis, node_seeds or {}, **kwargs)
        self.witness = witness
