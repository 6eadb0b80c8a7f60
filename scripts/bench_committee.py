"""What the committee views (issue 10 items 1-5: directives, tasks, polls, near-duplicates,
warnings) add to applying a block of 500 documents.

    .venv/bin/python scripts/bench_committee.py [--cells 400] [--history 20] [--blocks 6] [--words 200]

Two ledgers on LevelDB (in a temporary folder) are fed the same blocks through
``Ledger.apply_block`` (the path a node applies committed blocks by, signatures checked): A with
the views of issue 7 only (units, members, stats, timeline, lists, names), B with every view as a
node runs them: the committee views in the block's batch, the near-duplicate view trailing
(views/projection.py "Trailing views"), fed after the block as the node's trail thread does.
Blocks alternate A then B, so both meet the same machine; the CPU time of each apply_block on
the applying thread (``time.thread_time``: LevelDB's background compactions, which run on threads
of their own, are left out) is taken, first over --history blocks that build up an organisation's
past (not reported), then over --blocks measured ones. A full garbage collection runs before each
apply, untimed: the collector's passes an apply pays for are then those its own allocations
start, not those the other ledger's garbage would. Printed, for each document mix: the
median CPU ms per block of A and B, B's added work on the apply path as a share of A's apply
time (the goal: below 20%), the committee views' own share measured inside B, and the CPU the
trailing views then take for the block, off the apply path.

Mixes (500 documents a block, over --cells cells in 4 levels, every member in genesis):
``meetings`` -- half minutes (every member listed, opinions, a text of --words words), the rest
resolutions with tasks, status changes and findings (scripts/bench_views.py's mix);
``committee`` -- a quarter minutes as above, and directives and their acknowledgements and
reports, task reports, polls and ballots. Numbers are this machine's at the time: the lead
measures on a quiet one.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_views import BLOCK, DAY, START, Org, seed_of  # noqa: E402
from ledger.blocks import BlockProposal  # noqa: E402
from ledger.documents import Document, make_envelope  # noqa: E402
from ledger.jsonfmt import b64e  # noqa: E402
from ledger.keys import public_key  # noqa: E402
from ledger.ledger import Ledger  # noqa: E402
from ledger.store import LevelDBStore  # noqa: E402
from views import VIEWS, Views  # noqa: E402
from views.directives import DirectivesView  # noqa: E402
from views.polls import PollsView  # noqa: E402
from views.tasks import TasksView  # noqa: E402
from views.warnings import WarningsView  # noqa: E402

COMMITTEE = (DirectivesView, TasksView, PollsView, WarningsView)  # on the apply path
_WORDS = ("chi bộ tổ chức sinh hoạt thường kỳ đồng chí bí thư chủ trì nội dung kiểm điểm công tác tháng triển khai "
          "nhiệm vụ sản xuất vụ mùa phòng chống thiên tai xây dựng đường liên thôn học tập nghị quyết chăm lo gia "
          "đình chính sách giữ gìn an ninh trật tự chuyển đổi số ở cơ sở các đảng viên tham gia ý kiến thống nhất "
          "kế hoạch hội nông dân đoàn thanh niên hội phụ nữ vệ sinh môi trường khuyến học bảo vệ rừng").split()


class CommitteeOrg(Org):
    """bench_views' organisation, with a secretary in every cell (who answers directives) and
    documents of committee work."""

    def __init__(self, *args, words: int = 200, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.words = words
        self.secretary = {cell: f"sec-c{i}" for i, cell in enumerate(self.cells)}
        for member in self.secretary.values():
            self.officers[member] = seed_of(member)
        self.directives: list[tuple[str, str]] = []   # (doc id, issuer)
        self.resolutions: list[tuple[str, str, int]] = []  # (doc id, unit, tasks)
        self.polls: list[tuple[str, str]] = []

    def genesis(self) -> dict:
        g = super().genesis()
        g["members"] += [{"member_id": m, "unit": cell, "status": "full", "roles": ["secretary"],
                          "public_key": b64e(public_key(self.officers[m]))} for cell, m in self.secretary.items()]
        return g

    def _signed(self, type_: str, org: str, body: dict, signer: str, seed: bytes, refs=()) -> tuple[str, bytes]:
        self.counter += 1
        doc = Document(v=1, type=type_, org=org, body=body, refs=tuple(refs),
                       created_at=START - 10 * DAY + self.counter, nonce=os.urandom(16))
        return doc.doc_id, make_envelope(doc, [(signer, seed)]).to_bytes()

    def text(self) -> str:
        rng = self.rng
        return " ".join(rng.choice(_WORDS) for _ in range(self.words)) + f" ngày {rng.randrange(1, 28)}."

    def long_minutes(self, cell: str) -> bytes:
        rng = self.rng
        held = START - rng.randrange(300) * DAY
        attendees = [{"member": m, "present": rng.random() < 0.85} for m in self.members[cell]]
        for a in attendees:
            if not a["present"] and rng.random() < 0.6:
                a["reason"] = "công tác"
        body = {"meeting_id": f"{cell}/{self.counter}", "kind": "regular", "held_at": held, "scheduled_for": held,
                "mode": "in_person", "chair": "sec-central", "secretary": "sec-central", "attendees": attendees,
                "agenda": ["Kế hoạch tháng"], "decisions": ["Thông qua"], "text": self.text(),
                "opinions": [{"member": rng.choice(self.members[cell]), "topic": "kế hoạch",
                              "summary": rng.choice(["Nhất trí.", "Đề nghị làm đường.", "Đồng ý với báo cáo."])}
                             for _ in range(rng.randrange(4))],
                "votes": [{"motion": "Thông qua", "for": 3, "against": 0, "abstain": 0}]}
        return self._signed("minutes", cell, body, "sec-central", self.officers["sec-central"])[1]

    def committee_document(self) -> bytes:
        rng = self.rng
        cell = rng.choice(self.cells)
        roll = rng.random()
        if roll < 0.04 or not self.directives:
            issuer = rng.choice(["central", cell.rsplit("/", 2)[0], cell.rsplit("/", 1)[0]])
            body = {"number": f"{self.counter}-CT", "title": "Chỉ thị", "text": self.text(), "issued_at": START,
                    "addressed": {"scope": "subtree"}, "ack_due": START + 5 * DAY, "report_due": START + 30 * DAY}
            doc_id, env = self._signed("directive", issuer, body, "sec-central", self.officers["sec-central"])
            self.directives.append((doc_id, issuer))
            return env
        if roll < 0.35:
            doc_id, issuer = rng.choice(self.directives)
            cells = [c for c in self.cells if c.startswith(issuer + "/")]
            unit = rng.choice(cells)
            kind = "directive_ack" if rng.random() < 0.6 else "directive_report"
            body = {"directive": doc_id} | ({"final": rng.random() < 0.5, "text": "Đã triển khai."}
                                            if kind == "directive_report" else {})
            secretary = self.secretary[unit]
            return self._signed(kind, unit, body, secretary, self.officers[secretary], refs=[doc_id])[1]
        if roll < 0.45 or not self.resolutions:
            tasks = [{"owner": "sec-central", "due": START + rng.randrange(-10, 30) * DAY, "description": "Triển khai"}
                     for _ in range(rng.randrange(1, 4))]
            body = {"number": f"{self.counter}/NQ", "title": "Nghị quyết", "text": self.text(), "adopted_at": START,
                    "minutes": None, "tally": {"for": 10, "against": 0, "abstain": 1, "eligible": 15}, "tasks": tasks}
            doc_id, env = self._signed("resolution", cell, body, "sec-central", self.officers["sec-central"])
            self.resolutions.append((doc_id, cell, len(tasks)))
            return env
        if roll < 0.65:
            doc_id, unit, n = rng.choice(self.resolutions)
            body = {"resolution": doc_id, "task": rng.randrange(n), "status": rng.choice(["in_progress", "blocked"]),
                    "text": "Đang thực hiện."}
            return self._signed("task_report", unit, body, "sec-central", self.officers["sec-central"],
                                refs=[doc_id])[1]
        if roll < 0.68 or not self.polls:
            body = {"poll_id": f"{cell}/p{self.counter}", "motion": "Thông qua", "options": ["for", "against"],
                    "closes_at": START + 400 * DAY, "quorum": {"num": 1, "den": 2, "strict": True},
                    "eligible": "active"}
            doc_id, env = self._signed("poll", cell, body, "sec-central", self.officers["sec-central"])
            self.polls.append((doc_id, cell))
            return env
        doc_id, unit = rng.choice(self.polls)
        voter = rng.choice(self.members[unit])
        return self._signed("ballot", unit, {"poll": doc_id, "choice": rng.choice(["for", "against"])}, voter,
                            seed_of(voter), refs=[doc_id])[1]

    def block(self, mix: str) -> list[bytes]:
        rng = self.rng
        if mix == "meetings":
            return [self.long_minutes(rng.choice(self.cells)) if i % 2 == 0 else self.other(12).to_bytes()
                    for i in range(BLOCK)]
        return [self.long_minutes(rng.choice(self.cells)) if i % 4 == 0 else self.committee_document()
                for i in range(BLOCK)]


class TimedViews(Views):
    """The views, timing the committee views' own part of each apply_block."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.committee_seconds = 0.0
        for view in self.views:
            if isinstance(view, COMMITTEE):
                original = view.apply

                def timed(w, record, facts, sign, _apply=original):
                    t = time.thread_time()
                    _apply(w, record, facts, sign)
                    self.committee_seconds += time.thread_time() - t

                view.apply = timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=400)
    parser.add_argument("--history", type=int, default=20, help="blocks applied before measuring")
    parser.add_argument("--blocks", type=int, default=6, help="measured blocks per mix")
    parser.add_argument("--words", type=int, default=200, help="words in a minutes' text")
    args = parser.parse_args()
    for name in ("cells", "blocks", "words"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    base_views = tuple(v for v in VIEWS if v not in COMMITTEE)
    print(f"| mix (blocks of {BLOCK}) | A: issue 7's views (CPU ms) | B: every view (CPU ms) | B's added work | "
          "committee views inside B (CPU ms) | trailing views after B's block (CPU ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for mix in ("meetings", "committee"):
        org = CommitteeOrg(10, 4, args.cells, 15, seed=3, words=args.words)
        genesis = org.genesis()
        folder = tempfile.mkdtemp(prefix="bench_committee-")
        try:
            a = Ledger(LevelDBStore(os.path.join(folder, "a")), genesis,
                       observers=[Views([v() for v in base_views], trail=None)])
            timed = TimedViews(defer=True)
            b = Ledger(LevelDBStore(os.path.join(folder, "b")), genesis, observers=[timed])
            times: dict[str, list[float]] = {"a": [], "b": [], "c": [], "t": []}
            for i in range(args.history + args.blocks):
                envelopes = tuple(org.block(mix if i >= args.history // 2 else "meetings"))
                for name, ledger in (("a", a), ("b", b)) if i % 2 == 0 else (("b", b), ("a", a)):
                    timed.committee_seconds = 0.0
                    gc.collect()  # the other ledger's garbage is not this apply's to collect
                    t = time.thread_time()
                    ledger.apply_block(BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash,
                                                     timestamp=START + i * DAY, proposer="n1", term=1,
                                                     envelopes=envelopes))
                    took = time.thread_time() - t
                    if name == "b":
                        t = time.thread_time()
                        timed.trail.catch_up()  # as the node's trail thread does, after the block
                        trailing = time.thread_time() - t
                    if i >= args.history:
                        times[name].append(took)
                        if name == "b":
                            times["c"].append(timed.committee_seconds)
                            times["t"].append(trailing)
            ta, tb, tc, tt = (statistics.median(times[k]) * 1000 for k in "abct")
            print(f"| {mix} | {ta:.1f} | {tb:.1f} | {100 * (tb - ta) / ta:.1f}% | {tc:.1f} ({100 * tc / ta:.1f}% of A) "
                  f"| {tt:.1f} |")
            a.store.close()
            b.store.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
