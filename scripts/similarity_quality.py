"""Precision and recall of the near-duplicate detector (views/similarity.py) on a generated,
labelled set of Vietnamese minutes (tests/views/labelled.py: copies with the unit's name and
dates changed, light paraphrases, genuinely different minutes), at several thresholds; then,
on graded pairs (a minutes and a copy with some sentences rewritten), the share found at the
default threshold by their exact Jaccard similarity.

    .venv/bin/python scripts/similarity_quality.py [--seed 1] [--families 30] [--different 60] [--pairs 300]

A pair counts as found when both texts fall in one group of near-duplicates; as true when both
come from one family. The default threshold (node config views.similarity_threshold) is marked.
The second table shows what the estimate (128 bins) and the banding (20 bands of 6) do near the
threshold: pairs well above it are all found, pairs well below none.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.views.labelled import build_graded, build_labelled, graded_found, pair_scores  # noqa: E402
from views.similarity import DEFAULT_THRESHOLD  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--families", type=int, default=30)
    parser.add_argument("--different", type=int, default=60)
    parser.add_argument("--pairs", type=int, default=300, help="graded pairs")
    args = parser.parse_args()
    if args.families < 1 or args.different < 0 or args.pairs < 1:
        parser.error("--families and --pairs must be at least 1 and --different at least 0")
    labelled = build_labelled(args.seed, families=args.families, different=args.different)
    kinds = {k: sum(1 for v in labelled.kinds.values() if v == k) for k in ("base", "copy", "paraphrase", "different")}
    print(f"labelled set: {len(labelled.kinds)} minutes ({', '.join(f'{n} {k}' for k, n in kinds.items())})\n")
    print("| threshold | pairs found | true pairs | found and true | precision | recall |")
    print("|---:|---:|---:|---:|---:|---:|")
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
        s = pair_scores(labelled, threshold)
        mark = " (default)" if threshold == DEFAULT_THRESHOLD else ""
        print(f"| {threshold:g}{mark} | {s['predicted']} | {s['true']} | {s['hits']} | {s['precision']:.3f} | "
              f"{s['recall']:.3f} |")
    found = graded_found(build_graded(args.seed, pairs=args.pairs), DEFAULT_THRESHOLD)
    print(f"\ngraded pairs: {len(found)}, grouped at the default threshold {DEFAULT_THRESHOLD:g}, by exact Jaccard\n")
    print("| exact Jaccard | pairs | grouped | share |")
    print("|---|---:|---:|---:|")
    edges = [0.0, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.0001]
    for lo, hi in zip(edges, edges[1:]):
        inside = [hit for j, hit in found if lo <= j < hi]
        if inside:
            print(f"| {lo:.2f} to {min(hi, 1):.2f} | {len(inside)} | {sum(inside)} | {sum(inside) / len(inside):.3f} |")


if __name__ == "__main__":
    main()
