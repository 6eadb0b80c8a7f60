"""Benchmark the read models (views/): queries on a large ledger, and what the views add to
applying a block.

    .venv/bin/python scripts/bench_views.py [--documents 1000000] [--cells 2000] [--repeat 20]
        [--blocks 10] [--warm 20] [--cache DIR] [--rebuild]

The ledger: a root, --provinces provinces, --districts districts per province and cells
under them (4 levels, at least --cells cells), --members members per cell (in genesis),
and --documents documents: per cell, monthly regular minutes (every member listed,
present or absent with a reason, votes and opinions) going back as many months as it
takes, thematic minutes, resolutions, status changes (awards, warnings, made_full,
transfers within the district) and findings, in blocks of 500.

How it is built fast: in this process, straight through ``Ledger.apply_block`` on
LevelDB with the views on (the path a node applies committed blocks by: every
registry rule runs), with every document signed by the root's secretary or inspector
(who hold their roles in every unit), so one signature per document; no Raft, no
HTTP. Each envelope is handed to the ledger decoded, with its signature verified,
the way a leader's admission hands it over (``Ledger._keep_checked``), so applying
does not decode again what this process has just encoded. The built ledger is
cached under --cache (keyed by the parameters) and reused by every later run; a
build cut short goes on from the last block it applied; --rebuild makes it afresh.
If the views' format has changed since, opening the cached ledger replays it into
them (reported).

Printed: for the stats of one cell, one district, one province and the root (the default
six months, and the root by month over 12 months), a member's timeline (first page) and
a unit's minutes (first page): the first call after opening the store and the median of
--repeat repeated calls, each with its CPU time, against the goals (cell < 5 ms, others
< 50 ms). Then the incremental cost of the views per applied block: the same blocks of
500 new documents applied to the cached ledger (views on) and to a clone of it made
for the run (views off; table files hard-linked, so it costs no disk), interleaved,
after --warm blocks that fill the caches: the CPU time of apply_block in each, and of
the views' observer within it. Wall times are the machine's at the time: run it on a
quiet one (the CPU columns hold up on a busy one). The measured blocks stay in the
cached ledger.
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
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ledger.blocks import BlockProposal  # noqa: E402
from ledger.documents import Document, Envelope, make_envelope  # noqa: E402
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
GENERATOR = 3  # in the cache's name: bump it when the documents generated change


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
        self.skipping = False  # True: documents() makes no envelopes (a resumed build catching up)

    def state(self) -> dict:
        """What the ledger has made of the organisation so far (statuses, units, the document
        counter): saved beside the cached ledger, so the documents made to measure it continue
        it (no made_full of a full member, no transfer from the wrong cell, no meeting id twice)."""
        return {"counter": self.counter, "status": self.status, "unit_of": self.unit_of}

    def restore(self, state: dict) -> None:
        self.counter = state["counter"]
        self.status = state["status"]
        self.unit_of = state["unit_of"]

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

    def _envelope(self, type_: str, org: str, body: dict, signer: str) -> Envelope | None:
        """The signed envelope (None while ``skipping``: the stream only moves on)."""
        self.counter += 1
        if self.skipping:
            return None
        doc = Document(v=1, type=type_, org=org, body=body, refs=(), created_at=START - 10 * DAY + self.counter,
                       nonce=hashlib.sha256(self.salt + b"nonce/%d" % self.counter).digest()[:16])
        return make_envelope(doc, [(signer, self.officers[signer])])

    def minutes(self, cell: str, month: int, kind: str = "regular") -> Envelope | None:
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

    def other(self, months: int) -> Envelope | None:
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
    """Build (or go on building) the cached ledger at `path`; its info once complete.

    Resumable: blocks are durable as they apply, so a build cut short goes on from the height
    it reached (the document stream is replayed up to there without signing anything)."""
    org = Org(args.provinces, args.districts, args.cells, args.members)
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "genesis.json").exists():
        (path / "genesis.json").write_text(json.dumps(org.genesis()), encoding="utf-8")
    genesis = json.loads((path / "genesis.json").read_text(encoding="utf-8"))
    store = LevelDBStore(str(path / "ledger"))
    ledger = Ledger(store, genesis, observers=[Views()])
    resumed = ledger.height * BLOCK  # every block but the last is full, and the last ends a build
    if resumed:
        print(f"  resuming at height {ledger.height:,} ({resumed:,} documents)", file=sys.stderr, flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    batch: list[bytes] = []
    done = 0

    def flush() -> None:
        nonlocal batch
        # The block's time: its newest document's created_at (a document is never from the
        # block's future, and block times never go back).
        ledger.apply_block(BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash,
                                         timestamp=START - 10 * DAY + org.counter, proposer="n1", term=1,
                                         envelopes=tuple(batch)))
        batch = []

    org.skipping = resumed > 0
    for envelope in org.documents(args.documents):
        done += 1
        if done <= resumed:
            org.skipping = done < resumed
            continue
        # The fast path: hand the ledger each envelope decoded, as admission does (its
        # signatures verified here), so applying takes it instead of decoding the bytes made a
        # moment ago. Every registry rule runs on apply as on any node.
        envelope.verify_signatures()
        ledger._keep_checked(envelope)
        batch.append(envelope.to_bytes())
        if len(batch) == BLOCK:
            flush()
            if ledger.height % 100 == 0:
                made = done - resumed
                wall = time.perf_counter() - started
                left = (args.documents - done) / (made / wall)
                print(f"  built {done:,} of {args.documents:,} documents ({made / wall:,.0f}/s, CPU "
                      f"{(time.process_time() - cpu) / made * 1e6:,.0f} us each; about {left / 60:,.0f} min to go)",
                      file=sys.stderr, flush=True)
    if batch:
        flush()
    info = {"documents": done, "height": ledger.height, "units": len(org.units), "cells": len(org.cells),
            "members": sum(len(m) for m in org.members.values()), "log_size": ledger.head().log_size,
            "seconds": round(time.perf_counter() - started, 1), "cpu_seconds": round(time.process_time() - cpu, 1),
            "resumed_at": resumed}
    store.close()
    (path / "org.json").write_text(json.dumps(org.state()), encoding="utf-8")
    (path / "built.json").write_text(json.dumps(info), encoding="utf-8")
    return info


def clone_store(source: Path, target: Path) -> None:
    """A copy of a closed LevelDB directory that costs no disk: its table files (.ldb, .sst)
    are never changed once written (compaction writes new ones and deletes the old), so they
    are hard-linked; the log, manifest and the rest are copied."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.suffix in (".ldb", ".sst"):
            os.link(item, target / item.name)
        else:
            shutil.copy2(item, target / item.name)


def timed(fn, repeat: int) -> tuple[float, float, float, float]:
    """(first call, its CPU time, median of `repeat` more, their median CPU time), in ms. The CPU
    time is this thread's own (time.thread_time): on a machine shared with other work it is the
    cost a quiet machine would show, where the wall times also count the waits for a core."""
    t, c = time.perf_counter(), time.thread_time()
    fn()
    first, first_cpu = (time.perf_counter() - t) * 1000, (time.thread_time() - c) * 1000
    runs, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    return first, first_cpu, statistics.median(runs), statistics.median(cpu)


class TimedViews(Views):
    """The views, timing their part of each apply_block (CPU time of the applying thread)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.seconds: list[float] = []

    def apply_block(self, overlay, header, accepted) -> None:
        t = time.thread_time()
        super().apply_block(overlay, header, accepted)
        self.seconds.append(time.thread_time() - t)


def apply_cost(path: Path, genesis: dict, org: Org, args) -> list[tuple[str, float]]:
    """Apply the same blocks to the cached ledger with its views and to a clone of it without,
    interleaved (the order flips every block, so both see the same machine), after --warm blocks
    that fill the caches; medians per block."""
    clone = Path(tempfile.mkdtemp(prefix="bench_views-off-", dir=path)) / "ledger"
    clone_store(path / "ledger", clone)
    views = TimedViews(defer=True)  # as a node runs them: the trailing views after the block, off its apply
    ledgers = {"on": Ledger(LevelDBStore(str(path / "ledger")), genesis, observers=[views]),
               "off": Ledger(LevelDBStore(str(clone)), genesis)}
    thread: dict[str, list[float]] = {"on": [], "off": []}
    process: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for i in range(args.warm + args.blocks):
            batch = tuple(e.to_bytes() for e in
                          (org.minutes(org.rng.choice(org.cells), 0) if j % 2 == 0 else org.other(12)
                           for j in range(BLOCK)))
            for name in (("on", "off") if i % 2 == 0 else ("off", "on")):
                ledger = ledgers[name]
                t, c = time.thread_time(), time.process_time()
                block = ledger.apply_block(BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash,
                                                         timestamp=START + ledger.height, proposer="n1", term=1,
                                                         envelopes=batch))
                if i >= args.warm:
                    thread[name].append(time.thread_time() - t)
                    process[name].append(time.process_time() - c)
                if name == "on":
                    views.trail.catch_up()  # the node's trail thread, not timed
            rejected = sum(d.status != "accepted" for d in block.documents)
            if rejected:
                raise SystemExit(f"the ledger rejected {rejected} of the {BLOCK} documents made to measure it")
    finally:
        for ledger in ledgers.values():
            ledger.store.close()
        shutil.rmtree(clone.parent)
    # The measured blocks stay in the cached ledger (a valid ledger a few blocks longer).
    (path / "org.json").write_text(json.dumps(org.state()), encoding="utf-8")
    on, off = statistics.median(thread["on"]) * 1000, statistics.median(thread["off"]) * 1000
    p_on, p_off = statistics.median(process["on"]) * 1000, statistics.median(process["off"]) * 1000
    part = statistics.median(views.seconds[args.warm:]) * 1000
    return [("apply_block, views off (applying thread's CPU)", off),
            ("apply_block, views on (applying thread's CPU)", on),
            ("of which the views' observer", part),
            ("views' added cost, applying thread", 100 * (on - off) / off),
            ("apply_block, views off (process CPU, LevelDB's compaction threads too)", p_off),
            ("apply_block, views on (process CPU)", p_on),
            ("views' added cost, process", 100 * (p_on - p_off) / p_off)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--provinces", type=int, default=10)
    parser.add_argument("--districts", type=int, default=20, help="per province")
    parser.add_argument("--members", type=int, default=15, help="per cell")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=10, help="blocks of 500 applied to measure the added cost")
    parser.add_argument("--warm", type=int, default=20, help="blocks applied first, not measured (caches fill)")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/minutebook/bench_views"))
    parser.add_argument("--rebuild", action="store_true", help="build the ledger again even if cached")
    args = parser.parse_args()
    for name in ("documents", "cells", "provinces", "districts", "members", "repeat", "blocks"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warm < 0:
        parser.error("--warm must be at least 0")
    key = f"v{GENERATOR}-d{args.documents}-c{args.cells}-p{args.provinces}-k{args.districts}-m{args.members}"
    path = Path(args.cache) / key
    if args.rebuild and path.exists():
        shutil.rmtree(path)
    if not (path / "built.json").exists():
        print(f"building {args.documents:,} documents into {path} (cached for the next run; an interrupted "
              f"build goes on from where it stopped) ...", file=sys.stderr)
        info = build(path, args)
    else:
        info = json.loads((path / "built.json").read_text(encoding="utf-8"))
    genesis = json.loads((path / "genesis.json").read_text(encoding="utf-8"))
    t, c = time.perf_counter(), time.process_time()
    store = LevelDBStore(str(path / "ledger"))
    views = Views(progress=lambda done, total: print(f"  views replayed to height {done:,} of {total:,}",
                                                     file=sys.stderr, flush=True))
    ledger = Ledger(store, genesis, observers=[views])  # replays into the views if their format changed
    opened = time.perf_counter() - t, time.process_time() - c
    org = Org(args.provinces, args.districts, args.cells, args.members, seed=99, salt=os.urandom(16))
    org.restore(json.loads((path / "org.json").read_text(encoding="utf-8")))
    cell = org.cells[len(org.cells) // 2]
    district = cell.rpartition("/")[0]
    province = district.rpartition("/")[0]
    member = org.members[cell][1]
    now = START
    print(f"\nledger: {ledger.head().log_size:,} documents in {ledger.height:,} blocks, {info['units']:,} units "
          f"({info['cells']:,} cells, 4 levels), {info['members']:,} members; built in {info['seconds']:,} s "
          f"({info.get('cpu_seconds', '?')} s CPU); opened in {opened[0]:.1f} s ({opened[1]:.1f} s CPU)\n")

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
    print(f"| query | first call (ms) | its CPU (ms) | repeated, median of {args.repeat} (ms) | its CPU (ms) | goal |")
    print("|---|---:|---:|---:|---:|---|")
    for label, fn, goal in rows:
        first, first_cpu, median, cpu = timed(fn, args.repeat)
        verdict = "" if goal is None else f"< {goal} ms: {'met' if median < goal else 'NOT met'}"
        print(f"| {label} | {first:.2f} | {first_cpu:.2f} | {median:.2f} | {cpu:.2f} | {verdict} |", flush=True)
    store.close()

    print(f"\n| per applied block of {BLOCK} documents (median of {args.blocks} after {args.warm} to warm up, "
          f"views on and off interleaved) | ms or % |")
    print("|---|---:|")
    for label, value in apply_cost(path, genesis, org, args):
        print(f"| {label} | {value:.1f}{'%' if 'added' in label else ''} |")


if __name__ == "__main__":
    main()
