#!/usr/bin/env python3
"""Run the Raft simulator over many seeds, or replay one seed with its trace.

    scripts/simulate.py --seeds 20000 --jobs 2            # table over seeds 0..19999
    scripts/simulate.py --seeds 500 --nodes 5 --steps 400
    scripts/simulate.py --seed 1234 --trace [--shrink]    # replay one seed bit for bit

A seed fixes everything (cluster size unless --nodes, fault schedule, client
traffic, network fate of every message), so the command printed for a failing
seed reproduces it exactly.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from consensus.sim_faults import run_random, shrink  # noqa: E402

DEFAULT_STEPS = 200


def _one(job: tuple[int, int | None, int, float]):
    seed, nodes, steps, fault_rate = job
    started = time.perf_counter()
    result = run_random(seed, steps, nodes=nodes, fault_rate=fault_rate)
    result.seconds = time.perf_counter() - started
    if not result.violation:
        result.trace = result.fault_log = ""
    return result


def _replay_command(args: argparse.Namespace, seed: int) -> str:
    extra = f" --nodes {args.nodes}" if args.nodes else ""
    rate = f" --fault-rate {args.fault_rate}" if args.fault_rate is not None else ""
    return (f"scripts/simulate.py --seed {seed} --steps {args.steps}"
            f"{rate}{extra} --trace")


def run_many(args: argparse.Namespace) -> int:
    jobs = [(s, args.nodes, args.steps, args.fault_rate)
            for s in range(args.start, args.start + args.seeds)]
    started = time.perf_counter()
    totals = dict(seeds=0, steps=0, ticks=0, proposals=0, committed=0, reads=0, elections=0,
                  max_term=0)
    counts: dict[str, int] = {}
    faults: dict[str, int] = {}
    by_size: dict[int, int] = {}
    failures = []
    slowest = (0.0, None)
    if args.jobs > 1:
        pool = multiprocessing.Pool(args.jobs)
        results = pool.imap_unordered(_one, jobs, chunksize=16)
    else:
        pool = None
        results = map(_one, jobs)
    try:
        for done, result in enumerate(results, 1):
            totals["seeds"] += 1
            totals["steps"] += result.steps
            totals["ticks"] += result.ticks
            totals["proposals"] += result.proposals
            totals["committed"] += result.committed
            totals["reads"] += result.reads
            totals["elections"] += result.elections
            totals["max_term"] = max(totals["max_term"], result.max_term)
            for kind, count in result.counts.items():
                counts[kind] = counts.get(kind, 0) + count
            by_size[result.nodes] = by_size.get(result.nodes, 0) + 1
            for kind, count in result.faults.items():
                faults[kind] = faults.get(kind, 0) + count
            totals["liveness_max"] = max(totals.get("liveness_max", 0), result.liveness_ticks)
            if result.seconds > slowest[0]:
                slowest = (result.seconds, result.seed)
            if result.violation:
                failures.append(result)
                print(f"FAIL seed {result.seed} ({result.nodes} nodes): {result.violation}\n"
                      f"  replay: {_replay_command(args, result.seed)}", flush=True)
            if args.progress and done % args.progress == 0:
                print(f"... {done} seeds, {time.perf_counter() - started:.1f}s", flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    seconds = time.perf_counter() - started
    sizes = ", ".join(f"{n} nodes: {c}" for n, c in sorted(by_size.items()))
    rows = [
        ("seeds", f"{totals['seeds']} ({sizes})"),
        ("steps (ticks incl. liveness)", f"{totals['steps']} ({totals['ticks']})"),
        ("faults injected", str(sum(faults.values()))),
    ]
    rows += [(f"  {kind}", str(count)) for kind, count in sorted(faults.items())]
    rows += [
        ("proposals made / committed", f"{totals['proposals']} / {totals['committed']}"),
        ("reads served", str(totals["reads"])),
        ("leaders elected (max term)", f"{totals['elections']} ({totals['max_term']})"),
        ("liveness phase, max ticks", str(totals.get("liveness_max", 0))),
    ]
    rows += [(kind.replace("_", " "), str(count)) for kind, count in sorted(counts.items())]
    rows += [
        ("violations", str(len(failures))),
        ("seconds (wall)", f"{seconds:.1f} ({1000 * seconds / max(1, totals['seeds']):.1f} ms/seed"
                           f" wall, jobs={args.jobs}; slowest seed {slowest[1]}: "
                           f"{1000 * slowest[0]:.0f} ms)"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if failures:
        print("\nfailing seeds:", " ".join(str(r.seed) for r in sorted(failures,
                                                                        key=lambda r: r.seed)))
    return 1 if failures else 0


def run_one(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    result = run_random(args.seed, args.steps, nodes=args.nodes, fault_rate=args.fault_rate,
                        trace_len=args.trace_len)
    result.seconds = time.perf_counter() - started
    if result.violation and args.shrink:
        before = len(result.schedule)
        result = shrink(result, args.steps, trace_len=args.trace_len)
        result.seconds = time.perf_counter() - started   # run plus shrinking
        print(f"shrunk fault schedule from {before} to {len(result.schedule)} faults")
    print(f"seed {result.seed}: {result.nodes} nodes, {result.steps} steps, {result.ticks} ticks, "
          f"faults {sum(result.faults.values())} {dict(sorted(result.faults.items()))}, "
          f"proposals {result.proposals}, committed {result.committed}, reads {result.reads}, "
          f"leaders {result.elections}, {dict(sorted(result.counts.items()))}, "
          f"{1000 * result.seconds:.0f} ms")
    if result.violation:
        print(f"VIOLATION {result.violation}")
        if args.trace:
            print(f"\n--- fault schedule (tick, fault) ---\n{result.fault_log}")
            print(f"\n--- last {args.trace_len} events ---\n{result.trace}")
        return 1
    print("ok")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, help="run this many seeds")
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--seed", type=int, help="replay this one seed")
    parser.add_argument("--nodes", type=int, choices=(3, 5, 7),
                        help="cluster size (default: 3, 5 or 7 by seed)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"fault steps per seed before the liveness phase "
                             f"(default {DEFAULT_STEPS})")
    parser.add_argument("--fault-rate", type=float, default=None,
                        help="chance of a fault at each step (default: 0.04-0.15 by seed)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--trace", action="store_true", help="print the trace of a failing seed")
    parser.add_argument("--trace-len", type=int, default=60, help="events kept in the trace")
    parser.add_argument("--shrink", action="store_true",
                        help="drop faults while the seed still fails")
    parser.add_argument("--progress", type=int, default=0, help="print progress every N seeds")
    args = parser.parse_args(argv)
    if args.seed is not None:
        return run_one(args)
    if args.seeds:
        return run_many(args)
    parser.error("give --seeds N or --seed S")
    return 2


if __name__ == "__main__":
    sys.exit(main())
