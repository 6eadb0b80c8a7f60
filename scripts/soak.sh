#!/usr/bin/env bash
# Long fault runs, kept out of the default suite:
#   1. the cluster soak (tests/node/test_soak.py): a real 3-node cluster under a
#      steady stream of submissions while nodes are killed and restarted at random;
#      then every acknowledged document must be on every node, blocks and
#      certificates identical, and `minutebook audit` must pass;
#   2. many simulator seeds through the Raft core (scripts/simulate.py).
# Knobs: MINUTEBOOK_SOAK_SECONDS (default 120), MINUTEBOOK_SOAK_SEED (default 1),
#        SOAK_SIM_SEEDS (default 20000). Extra arguments go to pytest.
#   MINUTEBOOK_SOAK_SECONDS=1800 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test.sh -m soak -s -p no:cacheprovider "$@"
.venv/bin/python scripts/simulate.py --seeds "${SOAK_SIM_SEEDS:-20000}" --jobs 2
