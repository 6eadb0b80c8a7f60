"""``python -m node --config node.toml``: run one node (see node/serve.py)."""

import argparse
import sys

from node.serve import run_node

parser = argparse.ArgumentParser(prog="python -m node")
parser.add_argument("--config", required=True, help="the node's node.toml")
sys.exit(run_node(parser.parse_args().config))
