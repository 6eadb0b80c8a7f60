"""Benchmark the read models (views/): queries on a large ledger, and what the views add to
applying a block.

    .venv/bin/python scripts/bench_views.py [--documents 1000000] [--cells 2000] [--repeat 20]

The ledger: a root, --provinces provinces, --districts districts per province and cells
under them (4 levels, at least --cells cells), --members members per cell (in genesis),
and --documents documents: per cell, monthly regular minutes (every member listed,
present or absent with a reason, votes and opinions) going back as many months as it
takes, thematic minutes, resolutions, status changes (awards, warnings, made_full,
transfers within the district) and findings, in blocks of 500.

How it is built fast: in this process, straight through ``Ledger.apply_block`` on
LevelDB (the same path a node applies committed blocks by, signature checks
included), with every document signed by the root's secretary or inspector (who hold
their roles in every unit), so one signature per document; no Raft, no HTTP. The built
ledger is cached under --cache (keyed by the parameters) and reused by the next run;
--rebuild makes it again.

Printed: for the stats of one cell, one district, one province and the root (the default
six months, and the root by month over 12 months), a member's timeline (first page) and
a unit's minutes (first page): the first call after opening the store and the median of
--repeat repeated calls (and their CPU time), against the goals (cell < 5 ms, others
< 50 ms); then, over --blocks more blocks of 500 documents applied to the big ledger, the
CPU time apply_block takes with the views and the part of it the views take (so "views
off" is the rest), in one run. Wall times are the machine's at the time: run it on a
quiet one (the CPU columns hold up on a busy one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ledger.blocks import BlockProposal  # noqa: E402
from ledger.documents import Document, make_envelope  # noqa: E402
from ledger.jsonfmt import b64e  # noqa: E402
from ledger.keys import public_key  # noqa: E402
from ledger.ledger import Ledger  # noqa: E402
from ledger.store import LevelDBStore  # noqa: E402
from views import Views, member_timeline, unit_documents, unit_stats  # noqa: E402
from views.stats import default_period  # noqa: E402

DAY = 86_400_000
MONTH = 30 * DAY
BLOCK = 500
START = 1_767_225_600_000  # 2026-01-01: "now" for the built ledger; its history runs back from here


def seed_of(name: str) -> bytes:
    return hashlib.sha256(b"bench_views/" + name.encode()).digest()


class Org:
    """The benchmark organisation and a stream of its documents."""

    def __init__(self, provinces: int, districts: int, cells: int, members: int, seed: int = 1,
                 salt: bytes = b"") -> None:
        self.rng = random.Random(seed)
        self.salt = salt  # in every nonce: documents made for a measurement are new to the cached ledger
        self.units = [("central", "Trung ương", "central")]
        self.cells: list[str] = []
        per_district = -(-cells // (provinces * districts))
        for p in range(provinces):
            province = f"central/p{p}"
            self.units.append((province, f"Tỉnh {p}", "province"))
            for d in range(districts):
                district = f"{province}/d{d}"
                self.units.append((district, f"Huyện {p}.{d}", "committee"))
                for c in range(per_district):
                    cell = f"{district}/c{c}"
                    self.units.append((cell, f"Chi bộ {p}.{d}.{c}", "cell"))
                    self.cells.append(cell)
        self.members = {cell: [f"m{i}-{j}" for j in range(members)] for i, cell in enumerate(self.cells)}
        self.unit_of = {m: cell for cell, ms in self.members.items() for m in ms}
        self.status = {m: "probationary" if j % 5 == 0 else "full"
                       for ms in self.members.values() for j, m in enumerate(ms)}
        self.officers = {"sec-central": seed_of("sec-central"), "ins-central": seed_of("ins-central")}
        self.counter = 0

    def genesis(self) -> dict:
        members = [{"member_id": "sec-central", "unit": "central", "status": "full", "roles": ["secretary"],
                    "public_key": b64e(public_key(self.officers["sec-central"]))},
                   {"member_id": "ins-central", "unit": "central", "status": "full", "roles": ["inspector"],
                    "public_key": b64e(public_key(self.officers["ins-central"]))}]
        for cell, ms in self.members.items():
            for m in ms:
                members.append({"member_id": m, "unit": cell, "status": self.status[m], "roles": [],
                                "public_key": b64e(public_key(seed_of(m)))})
        nodes = [{"node_id": "n1", "public_key": b64e(public_key(seed_of("n1"))), "peer_addr": "127.0.0.1:1",
                  "role": "voter"}]
        return {"chain_id": "bench-views", "created_at": START - 20 * 365 * DAY,
                "units": [{"path": p, "name": n, "kind": k} for p, n, k in self.units],
                "members": members, "nodes": nodes}

    def _envelope(self, type_: str, org: str, body: dict, signer: str) -> bytes:
        self.counter += 1
        doc = Document(v=1, type=type_, org=org, body=body, refs=(), created_at=START - 10 * DAY + self.counter,
                       nonce=hashlib.sha256(self.salt + b"nonce/%d" % self.counter).digest()[:16])
        return make_envelope(doc, [(signer, self.officers[signer])]).to_bytes()

    def minutes(self, cell: str, month: int, kind: str = "regular") -> bytes:
        rng = self.rng
        held = START - month * MONTH - rng.randrange(20) * DAY
        attendees = []
        for m in self.members[cell]:
            present = rng.random() < 0.88
            attendees.append({"member": m, "present": present} | ({} if present else {"reason": "công tác"}))
        speakers = [a["member"] for a in attendees if a["present"]] or [self.members[cell][0]]
        present = sum(a["present"] for a in attendees)
        body = {"meeting_id": f"{cell}/{kind}/{month}/{self.counter}", "kind": kind, "held_at": held,
                "scheduled_for": held - rng.randrange(10) * DAY, "mode": "in_person", "chair": "sec-central",
                "secretary": "sec-central", "attendees": attendees, "agenda": ["Kế hoạch tháng"],
                "opinions": [{"member": rng.choice(speakers), "topic": "kế hoạch", "summary": "Nhất trí."}
                             for _ in range(rng.randrange(4))],
                "votes": [{"motion": "Thông qua", "for": present - 1 if present else 0, "against": 0,
                           "abstain": 1 if present else 0}],
                "decisions": ["Thông qua kế hoạch"], "text": f"Biên bản họp chi bộ {cell} tháng {month}."}
        return self._envelope("minutes", cell, body, "sec-central")

    def other(self, months: int) -> bytes:
        rng = self.rng
        cell = rng.choice(self.cells)
        roll = rng.random()
        if roll < 0.2:
            body = {"number": f"{self.counter}/NQ", "title": "Nghị quyết", "text": "Về nhiệm vụ.",
                    "adopted_at": START - rng.randrange(months) * MONTH, "minutes": None,
                    "tally": {"for": 10, "against": 0, "abstain": 1, "eligible": 15},
                    "tasks": [{"owner": "sec-central", "due": START, "description": "Triển khai"}]}
            return self._envelope("resolution", cell, body, "sec-central")
        if roll < 0.3:
            subject = {"unit": cell} if rng.random() < 0.5 else {"member": rng.choice(self.members[cell])}
            body = {"inspection_id": f"KT-{self.counter}", "subject": subject, "finding": "Chậm nộp biên bản.",
                    "severity": rng.choice(["info", "minor", "major", "critical"]), "recommendations": []}
            return self._envelope("inspection_finding", "central", body, "ins-central")
        member = rng.choice(self.members[cell])
        unit = self.unit_of[member]
        change = rng.choice(["award", "warning", "reprimand", "award"])
        body = {"member": member, "effective_at": START - rng.randrange(months) * MONTH, "reason": "Theo đề nghị."}
        if self.status[member] == "probationary":
            change = "made_full"
            self.status[member] = "full"
        elif rng.random() < 0.05:
            district = unit.rpartition("/")[0]
            others = [c for c in self.cells if c.startswith(district + "/") and c != unit]
            if others:
                change = "transferred"
                body["to_org"] = rng.choice(others)
                self.unit_of[member] = body["to_org"]
        body["change"] = change
        return self._envelope("member_status", unit, body, "sec-central")

    def documents(self, total: int):
        """`total` documents: monthly minutes of every cell going back, mixed with the rest."""
        minutes_share = 0.4
        months = max(1, int(total * minutes_share / len(self.cells)))
        made = 0
        month = 0
        while made < total:
            for cell in self.cells:
                if made >= total:
                    return
                yield self.minutes(cell, month % months)
                made += 1
                for _ in range(int(1 / minutes_share) - 1):
                    if made >= total:
                        return
                    yield self.minutes(cell, month % months, "thematic") if self.rng.random() < 0.1 \
                        else self.other(months)
                    made += 1
            month += 1


def build(path: Path, args) -> dict:
    org = Org(args.provinces, args.districts, args.cells, args.members)
    genesis = org.genesis()
    path.mkdir(parents=True)
    (path / "genesis.json").write_text(json.dumps(genesis), encoding="utf-8")
    store = LevelDBStore(str(path / "ledger"))
    ledger = Ledger(store, genesis, observers=[Views()])
    started = time.perf_counter()
    batch: list[bytes] = []
    done = 0

    def flush() -> None:
        nonlocal batch
        ledger.apply_block(BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash,
                                         timestamp=START - 10 * DAY + ledger.height + 1, proposer="n1", term=1,
                                         envelopes=tuple(batch)))
        batch = []

    for envelope in org.documents(args.documents):
        batch.append(envelope)
        done += 1
        if len(batch) == BLOCK:
            flush()
            if ledger.height % 100 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  built {done:,} documents ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    if batch:
        flush()
    info = {"documents": done, "height": ledger.height, "units": len(org.units), "cells": len(org.cells),
            "members": sum(len(m) for m in org.members.values()), "seconds": round(time.perf_counter() - started, 1),
            "log_size": ledger.head().log_size}
    store.close()
    (path / "built.json").write_text(json.dumps(info), encoding="utf-8")
    return info


def timed(fn, repeat: int) -> tuple[float, float, float]:
    """(first call, median of `repeat` more, their median CPU time), in ms. The CPU time is this
    process's own (time.process_time): on a machine shared with other work it is the cost a quiet
    machine would show, where the wall times also count the waits for a core."""
    t = time.perf_counter()
    fn()
    first = (time.perf_counter() - t) * 1000
    runs, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return first, statistics.median(runs), statistics.median(cpu)


class TimedViews(Views):
    """The views, timing their part of each apply_block."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.seconds: list[float] = []

    def apply_block(self, overlay, header, accepted) -> None:
        t = time.process_time()
        super().apply_block(overlay, header, accepted)
        self.seconds.append(time.process_time() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--provinces", type=int, default=10)
    parser.add_argument("--districts", type=int, default=20, help="per province")
    parser.add_argument("--members", type=int, default=15, help="per cell")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=6, help="blocks of 500 applied to measure the added cost")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/minutebook/bench_views"))
    parser.add_argument("--rebuild", action="store_true", help="build the ledger again even if cached")
    args = parser.parse_args()
    for name in ("documents", "cells", "provinces", "districts", "members", "repeat", "blocks"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    key = f"d{args.documents}-c{args.cells}-p{args.provinces}-k{args.districts}-m{args.members}"
    path = Path(args.cache) / key
    if args.rebuild and path.exists():
        shutil.rmtree(path)
    if not (path / "built.json").exists():
        if path.exists():
            shutil.rmtree(path)
        print(f"building {args.documents:,} documents into {path} (cached for the next run) ...", file=sys.stderr)
        info = build(path, args)
    else:
        info = json.loads((path / "built.json").read_text(encoding="utf-8"))
    genesis = json.loads((path / "genesis.json").read_text(encoding="utf-8"))
    store = LevelDBStore(str(path / "ledger"))
    views = TimedViews()
    ledger = Ledger(store, genesis, observers=[views])
    org = Org(args.provinces, args.districts, args.cells, args.members, seed=99, salt=os.urandom(16))
    cell = org.cells[len(org.cells) // 2]
    district = cell.rpartition("/")[0]
    province = district.rpartition("/")[0]
    member = org.members[cell][1]
    now = START
    print(f"\nledger: {info['documents']:,} documents in {info['height']:,} blocks, {info['units']:,} units "
          f"({info['cells']:,} cells, 4 levels), {info['members']:,} members; built in {info['seconds']} s\n")

    def stats(path_: str, *, by_month: bool = False, months: int = 6):
        def run():
            with views.reader() as r:
                since, until = default_period(now, None, None, r.zone) if months == 6 else \
                    (now - (months - 1) * MONTH - 15 * DAY, now)
                unit_stats(r, path_, since=since, until=until, now=now, by_month=by_month)
        return run

    def timeline():
        with views.reader() as r:
            member_timeline(r, member, limit=100)

    def minutes_page():
        with views.reader() as r:
            unit_documents(r, cell, type="minutes", limit=100)

    rows = [
        (f"stats, one cell ({cell})", stats(cell), 5),
        (f"stats, one district ({district})", stats(district), 50),
        (f"stats, one province ({province})", stats(province), 50),
        ("stats, the root", stats("central"), 50),
        ("stats, the root by month, 12 months", stats("central", by_month=True, months=12), None),
        (f"member timeline, first 100 entries ({member})", timeline, None),
        ("a cell's minutes, first 100", minutes_page, None),
    ]
    print(f"| query | first call (ms) | repeated, median of {args.repeat} (ms) | its CPU (ms) | goal |")
    print("|---|---:|---:|---:|---|")
    for label, fn, goal in rows:
        first, median, cpu = timed(fn, args.repeat)
        verdict = "" if goal is None else f"< {goal} ms: {'met' if median < goal else 'NOT met'}"
        print(f"| {label} | {first:.2f} | {median:.2f} | {cpu:.2f} | {verdict} |")

    views.seconds.clear()
    applied = []
    for _ in range(args.blocks):
        batch = [org.minutes(org.rng.choice(org.cells), 0) if i % 2 == 0 else org.other(12) for i in range(BLOCK)]
        t = time.process_time()
        ledger.apply_block(BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash,
                                         timestamp=START + ledger.height, proposer="n1", term=1,
                                         envelopes=tuple(batch)))
        applied.append(time.process_time() - t)
    # The measured blocks stay in the cached ledger (a valid ledger a few blocks longer).
    info.update(documents=info["documents"] + args.blocks * BLOCK, height=ledger.height)
    (path / "built.json").write_text(json.dumps(info), encoding="utf-8")
    store.close()
    total = statistics.median(applied) * 1000
    part = statistics.median(views.seconds) * 1000
    print(f"\n| per applied block of {BLOCK} documents (median of {args.blocks}, CPU time) | ms |")
    print("|---|---:|")
    print(f"| apply_block with the views | {total:.1f} |")
    print(f"| of which the views | {part:.1f} |")
    print(f"| apply_block without them (the rest) | {total - part:.1f} |")
    print(f"| views' added cost | {100 * part / max(total - part, 1e-9):.0f}% |")


if __name__ == "__main__":
    main()
