#!/usr/bin/env python3
"""Run the fault bed (tests/fault/bed.py) for many schedules and print one table row per schedule.

    sudo .venv/bin/python scripts/faults.py --schedules 30 --seed 1
    .venv/bin/python scripts/faults.py --schedules 3 --seed 7 --duration 20 --nemeses partition,pause,kill

Needs root (network namespaces, tmpfs mounts) and iproute2. Each schedule starts a fresh cluster
in fresh namespaces, runs `--duration` seconds of faults under concurrent clients, heals, and
checks (module doc of tests/fault/bed.py): lost, duplicated, forks, bad certificates, inconsistent
tree heads, recovery time. The seed of schedule i is derived from --seed, printed, and replays
with --seed S --schedules 1 --first i. Exit status 1 if any schedule found anything.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fault.bed import NEMESES, format_table, run_schedule  # noqa: E402
from tests.fault.netbed import available  # noqa: E402


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the schedule under way cleans up (namespaces, mounts, processes)


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=1, help="number of the first schedule (to replay one)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of faults per schedule")
    parser.add_argument("--nodes", default="3,5", help="cluster sizes to draw from, e.g. 3 or 3,5")
    parser.add_argument("--nemeses", default=",".join(NEMESES), help=f"comma-separated subset of {','.join(NEMESES)}")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    parser.add_argument("--run", type=int, default=None,
                        help="network number 0..249 (198.18.RUN.0/24, namespaces mbfRUN-*); default: from the pid, "
                             "so two runs on one machine do not share namespaces")
    args = parser.parse_args()
    if args.schedules < 1 or args.duration < 10:
        parser.error("--schedules must be >= 1 and --duration >= 10")
    nemeses = [n.strip() for n in args.nemeses.split(",") if n.strip()]
    unknown = sorted(set(nemeses) - set(NEMESES))
    if unknown:
        parser.error(f"unknown nemeses {unknown}; known: {', '.join(NEMESES)}")
    sizes = [int(n) for n in args.nodes.split(",")]
    why = available()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    run = args.run if args.run is not None else 10 + os.getpid() % 80  # pytest's short schedules use others
    master = random.Random(args.seed)
    seeds = [master.randrange(1 << 31) for _ in range(args.first - 1 + args.schedules)][args.first - 1:]
    print(f"fault bed: {args.schedules} schedules from seed {args.seed}, {args.duration:g} s each, "
          f"nodes {sizes}, nemeses {', '.join(nemeses)}", flush=True)
    rows = []
    started = time.monotonic()
    for i, seed in enumerate(seeds, start=args.first):
        nodes = random.Random(seed).choice(sizes)
        root = Path(tempfile.mkdtemp(prefix=f"minutebook-faults-{i}-"))
        print(f"schedule {i} (seed {seed}, {nodes} nodes):", flush=True)
        row = run_schedule(root, schedule=i, seed=seed, nodes=nodes, duration=args.duration, nemeses=nemeses,
                           run=run, log=lambda line: print(line, flush=True))
        rows.append(row)
        verdict = "ok" if row.ok else "FOUND: " + "; ".join(row.notes or ["see counts"])
        print(f"  -> acked {row.acked}, lost {row.lost}, duplicated {row.duplicated}, forks {row.forks}, bad "
              f"certificates {row.bad_certificates}, inconsistent heads {row.inconsistent_heads}, recovery "
              f"{row.recovery_s} s: {verdict}", flush=True)
        for line in row.info:
            print(f"     {line}", flush=True)
        if row.ok:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"     kept {root} (node logs, configs, data directories)", flush=True)
    print()
    print(format_table(rows))
    bad = [r for r in rows if not r.ok]
    print(f"\n{len(rows)} schedules in {time.monotonic() - started:.0f} s; {len(bad)} with findings "
          f"(seed {args.seed})")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
