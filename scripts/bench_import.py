"""A records office's bulk import into the 3-node devnet: member files from CSV,
interrupted at half by SIGKILL and resumed, then checked for duplicates.

    .venv/bin/python scripts/bench_import.py [--records 100000] [--full-fraction 0.8] [--interrupt-at 0.5]

Starts `minutebook devnet up --no-sample` in a temporary directory (free
ports), creates a small hierarchy of units with `minutebook import` of a
JSONL file, writes a CSV of `--records` member rows (template `members`;
a fraction of them also made full, which makes a second document sent in a
later wave), then:

1. times `minutebook import --check` alone (reading and checking every row);
2. runs `minutebook import` and kills it with SIGKILL once its resume file
   holds `--interrupt-at` of the documents;
3. runs the same command again, which resumes;
4. checks the ledger: every block's documents, fetched from a node, hold
   exactly the documents the CSV makes (the same ids as a plan made here),
   each once, and none was rejected.

Prints a table; the goal (issue 7) is 100,000 records in under 60 s,
checking included (the two runs' wall time, both checking every row). It
also prints the CPU seconds of the import (with its pool of processes) and
of the three nodes, per document, and the floor their sum sets on this
machine's cores: on a busy machine the wall times say little, the CPU
figures (and which side they fall on) still do. `--full-fraction 0` makes
one document per record.
Exits 1 if the ledger does not hold each document exactly once.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ports import devnet_base_port  # noqa: E402

PROVINCES, COMMITTEES, CELLS = 4, 4, 12   # per parent: 4 provinces, 16 committees, 192 cells
_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ"]
_GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương", "Lan", "Linh"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "client.cli", *args]


def cells() -> list[str]:
    return [f"central/p{p}/k{k}/c{c}" for p in range(1, PROVINCES + 1) for k in range(1, COMMITTEES + 1)
            for c in range(1, CELLS + 1)]


def units_jsonl(path: Path, created_at: int) -> int:
    lines = []
    for p in range(1, PROVINCES + 1):
        lines.append(("central", f"central/p{p}", f"Tỉnh {p}", "province"))
        for k in range(1, COMMITTEES + 1):
            lines.append((f"central/p{p}", f"central/p{p}/k{k}", f"Huyện {p}.{k}", "committee"))
            for c in range(1, CELLS + 1):
                lines.append((f"central/p{p}/k{k}", f"central/p{p}/k{k}/c{c}", f"Chi bộ {p}.{k}.{c}", "cell"))
    with open(path, "w", encoding="utf-8") as f:
        for i, (parent, unit, name, kind) in enumerate(lines):
            f.write(json.dumps({"type": "org_unit", "org": parent, "created_at": created_at + i,
                                "body": {"action": "create", "path": unit, "name": name, "kind": kind}},
                               ensure_ascii=False) + "\n")
    return len(lines)


def members_csv(path: Path, records: int, full_fraction: float, seed: int) -> None:
    rng = random.Random(seed)
    units = cells()
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["unit", "member_id", "name", "admitted_at", "full_at"])
        for i in range(records):
            year = rng.randrange(1950, 2025)
            admitted = f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            full = f"{year + 1}{admitted[4:]}" if rng.random() < full_fraction and year < 2024 else ""
            writer.writerow([units[i % len(units)], f"b{i:07d}", f"{rng.choice(_FAMILY)} Văn {rng.choice(_GIVEN)}",
                             admitted, full])


def wait_leader(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v1/status", timeout=2).json().get("leader"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"no leader at {url} within {timeout:.0f}s")


def settled(resume: Path) -> int:
    try:
        with open(resume, "rb") as f:
            return sum(1 for line in f if b'"committed"' in line or b'"already_committed"' in line)
    except FileNotFoundError:
        return 0


def ledger_documents(url: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(accepted doc ids in log order, [(doc id, reason)] of the rejected) from every block of the node."""
    accepted, rejected, start = [], [], 1
    with httpx.Client(base_url=url, timeout=60) as http:
        height = http.get("/v1/status").json()["height"]
        while start <= height:
            page = http.get("/v1/blocks", params={"from": start, "limit": 100}).json()["blocks"]
            if not page:
                break
            for block in page:
                for d in block["documents"]:
                    if d["status"] == "accepted":
                        accepted.append(d["doc_id"])
                    else:
                        rejected.append((d["doc_id"], d.get("reason", "")))
            start = page[-1]["height"] + 1
    return accepted, rejected


def planned_ids(csv_path: Path, created_at: int, tz: str) -> list[str]:
    from client.import_templates import TEMPLATES
    from client.importer import plan_table
    from client.tabular import read_table
    from ledger.timefmt import zone

    plan = plan_table(read_table(csv_path), TEMPLATES["members"], created_at=created_at, tz=zone(tz))
    if plan.problems:
        raise SystemExit(f"the generated CSV has problems: {plan.problems[0].line()}")
    return [i.doc_id for i in plan.items]


def children_cpu() -> float:
    """CPU seconds of the children waited for (each import run, with its pool of processes)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def nodes_cpu(devnet_pid: int) -> float:
    """CPU seconds the devnet's node processes (its children) have used so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == devnet_pid:  # ppid; utime and stime are fields 14 and 15 of stat
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_import(args: list[str], env: dict, *, kill_when=None) -> tuple[float, int, str]:
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT, text=True)
    killed = False
    if kill_when is not None:
        while proc.poll() is None:
            if kill_when():
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
    out, _ = proc.communicate()
    code = -9 if killed else proc.returncode
    return time.monotonic() - started, code, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--full-fraction", type=float, default=0.8,
                        help="fraction of members also made full (a second document each)")
    parser.add_argument("--interrupt-at", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the devnet directory")
    args = parser.parse_args()
    if args.records < 1 or not 0 < args.interrupt_at < 1 or not 0 <= args.full_fraction <= 1:
        parser.error("--records >= 1, 0 < --interrupt-at < 1, 0 <= --full-fraction <= 1")

    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", MINUTEBOOK_TZ="Asia/Ho_Chi_Minh")
    base = devnet_base_port(3)
    devnet = subprocess.Popen(cli("devnet", "up", "--dir", str(tmp / "dn"), "--nodes", "3", "--base-port", str(base),
                                  "--no-sample"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env,
                              cwd=ROOT)
    url = f"http://127.0.0.1:{base + 1}"
    try:
        wait_leader(url)
        genesis = json.loads((tmp / "dn" / "genesis.json").read_text(encoding="utf-8"))
        secretary = next(m["member_id"] for m in genesis["members"] if "secretary" in m["roles"])
        key = str(tmp / "dn" / "keys" / "members" / f"{secretary}.json")
        common = ["--key", key, "--node", url, "--quiet", "--batch-size", str(args.batch_size),
                  "--concurrency", str(args.concurrency)]
        units = tmp / "units.jsonl"
        unit_count = units_jsonl(units, genesis["created_at"] + 1)
        t, code, out = run_import(cli("import", str(units), *common), env)
        if code != 0:
            raise SystemExit(f"creating the units failed (exit {code}):\n{out}")
        members = tmp / "members.csv"
        members_csv(members, args.records, args.full_fraction, args.seed)

        cpu0, node0 = children_cpu(), nodes_cpu(devnet.pid)
        check_s, code, out = run_import(cli("import", str(members), "--check", "--key", key, "--node", url,
                                            "--quiet"), env)  # --key: the unit lookups are signed reads
        if code != 0:
            raise SystemExit(f"import --check failed (exit {code}):\n{out}")
        resume = Path(str(members) + ".resume")
        header = json.loads(resume.read_text(encoding="utf-8").splitlines()[0])
        planned = planned_ids(members, header["created_at"], header["tz"])
        half = int(len(planned) * args.interrupt_at)

        cpu1 = children_cpu()
        first_s, code1, _ = run_import(cli("import", str(members), *common), env,
                                       kill_when=lambda: settled(resume) >= half)
        at_kill = settled(resume)
        second_s, code2, out2 = run_import(cli("import", str(members), *common), env)
        client_check, client_runs = cpu1 - cpu0, children_cpu() - cpu1
        node_cpu = nodes_cpu(devnet.pid) - node0
        if code2 != 0:
            raise SystemExit(f"the resumed import failed (exit {code2}):\n{out2}")

        accepted, rejected = ledger_documents(url)
        imported = accepted[unit_count:]
        once = len(imported) == len(set(imported)) and sorted(imported) == sorted(planned)
        # A resumed import sends again what the killed one had in flight: a copy that reaches a block
        # after the first is refused there (same id, already in the log). Anything else is a failure.
        resent = [r for r in rejected if r[0] in set(imported)]
        once = once and len(resent) == len(rejected)
        total = first_s + second_s
        rows = [
            ("member records (CSV rows)", f"{args.records:,}"),
            ("documents they make", f"{len(planned):,} ({len(planned) - args.records:,} made full, a later wave)"),
            ("import --check alone (read and check every row)", f"{check_s:.1f} s"),
            ("run 1, SIGKILLed", f"after {first_s:.1f} s, {at_kill:,} documents settled"
                                 + ("" if code1 == -9 else f" (it ended first, exit {code1})")),
            ("run 2, resumed", f"{second_s:.1f} s"),
            ("both runs (each checks every row first)", f"{total:.1f} s (goal < 60 s for 100,000 records)"),
            ("records per second / documents per second", f"{args.records / total:,.0f} / {len(planned) / total:,.0f}"),
            ("ledger: each planned document accepted exactly once", "yes" if once else
             f"NO: {len(imported):,} accepted ({len(set(imported)):,} distinct) of {len(planned):,} planned; "
             f"rejected: {sorted({reason for _, reason in rejected if _ not in set(imported)})[:3]}"),
            ("copies sent again on resume, refused as already in the log", f"{len(resent):,}"
             + (f" ({resent[0][1][:60]})" if resent else "")),
            ("CPU: import --check / the two runs", f"{client_check:.1f} s / {client_runs:.1f} s "
                                                   f"({client_runs / len(planned) * 1e6:.0f} us per document)"),
            ("CPU: the 3 nodes, over all of it", f"{node_cpu:.1f} s ({node_cpu / len(planned) * 1e3:.2f} ms per document)"),
            (f"CPU-bound floor on {os.cpu_count()} idle cores (the two runs)",
             f"{(client_runs + node_cpu) / (os.cpu_count() or 1):.1f} s"),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"bench_import: 3-node devnet, batch {args.batch_size}, {args.concurrency} in flight")
        for what, value in rows:
            print(f"  {what.ljust(width)}  {value}")
        if not once:
            raise SystemExit(1)
    finally:
        devnet.send_signal(signal.SIGTERM)
        try:
            devnet.wait(30)
        except subprocess.TimeoutExpired:
            devnet.kill()
            devnet.wait()
        if args.keep:
            print(f"kept {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
