"""A labelled set of minutes texts for measuring the near-duplicate detector (views/similarity.py):
families of copies (the same minutes with the unit's name, the dates and the numbers changed),
light paraphrases (a few words swapped for others, a sentence dropped or added, two sentences
in another order) and genuinely different minutes written from the same vocabulary, in
Vietnamese, spread over the cells of a ledger whose units have Vietnamese names.

Also graded pairs (:func:`build_graded`): a minutes and a copy of it in another cell with some of
its sentences rewritten, each pair alone, from a few sentences to most, so that their exact
Jaccard similarity (of the shingles the detector sees) spreads over 0..1: what share of the
pairs at each similarity the detector groups shows what the banding and the estimate miss near
the threshold.

Used by tests/views/test_similarity.py (a floor) and scripts/similarity_quality.py (the tables).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import combinations

from ledger.blocks import BlockProposal
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from tests.ledger.factory import CELLS, DAY, T0, make_org
from views import Views

__all__ = ["Labelled", "build_labelled", "pair_scores", "build_graded", "graded_found"]

_NAMES = ["Chi bộ Thôn Đông", "Chi bộ Thôn Tây", "Chi bộ Bản Nà Hẩu", "Chi bộ Khu phố Ba", "Chi bộ Trường Tiểu học",
          "Chi bộ Trạm Y tế"]
_SUBJECTS = ["chi ủy", "đồng chí bí thư", "các đảng viên", "hội nông dân", "đoàn thanh niên", "ban công tác mặt trận",
             "hội phụ nữ", "tổ hòa giải", "ban quản lý thôn", "hợp tác xã"]
_VERBS = ["triển khai", "kiểm tra", "đôn đốc", "tổng kết", "rà soát", "thống nhất", "bàn biện pháp", "phân công",
          "đánh giá", "chuẩn bị"]
_OBJECTS = ["kế hoạch sản xuất vụ mùa", "công tác phòng chống thiên tai", "việc xây dựng đường liên thôn",
            "công tác phát triển đảng viên", "việc học tập nghị quyết", "chăm lo gia đình chính sách",
            "giữ gìn an ninh trật tự", "chuyển đổi số ở cơ sở", "thu nộp đảng phí", "vệ sinh môi trường",
            "phòng chống dịch bệnh", "bảo vệ rừng đầu nguồn", "xóa nhà tạm", "khuyến học khuyến tài"]
_TAILS = ["trong tháng tới", "theo đúng tiến độ", "với sự tham gia của nhân dân", "có hiệu quả",
          "báo cáo kết quả về đảng ủy", "đúng quy định", "ở từng hộ gia đình", "trước mùa mưa bão"]
_SWAPS = {"triển khai": "tổ chức", "kiểm tra": "giám sát", "đôn đốc": "nhắc nhở", "các đảng viên": "đảng viên",
          "có hiệu quả": "thiết thực", "theo đúng tiến độ": "kịp thời", "thống nhất": "nhất trí"}


def _sentence(rng: random.Random) -> str:
    return (f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
            f"{rng.choice(_TAILS)}.")


def _base(rng: random.Random) -> list[str]:
    return [_sentence(rng) for _ in range(rng.randrange(12, 22))]


def _text(sentences: list[str], unit_name: str, day: int, month: int) -> str:
    return (f"Hôm nay, ngày {day} tháng {month} năm 2026, {unit_name} họp thường kỳ. " + " ".join(sentences)
            + f" {unit_name} kết thúc cuộc họp lúc 21 giờ {day + 7} phút.")


def _paraphrase(rng: random.Random, sentences: list[str]) -> list[str]:
    out = list(sentences)
    for _ in range(rng.randrange(1, 3)):
        i = rng.randrange(len(out))
        for old, new in _SWAPS.items():
            if old in out[i]:
                out[i] = out[i].replace(old, new, 1)
                break
    roll = rng.random()
    if roll < 0.33:
        del out[rng.randrange(len(out))]
    elif roll < 0.66:
        out.insert(rng.randrange(len(out)), _sentence(rng))
    else:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


@dataclass
class Labelled:
    views: Views
    family: dict[str, int | None]  # record id -> family (None: a minutes of its own)
    kinds: dict[str, str]           # record id -> base | copy | paraphrase | different


class _Builder:
    """A ledger whose cells have Vietnamese names, and minutes of a given text for it."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.org = make_org(seed % 5)
        for unit, name in zip((u for u in self.org.genesis["units"] if u["path"] in CELLS), _NAMES):
            unit["name"] = name
        self.names = {u["path"]: u["name"] for u in self.org.genesis["units"]}
        self.views = Views()
        self.ledger = Ledger(MemoryStore(), self.org.genesis, observers=[self.views])
        self.envelopes: list = []

    def minutes(self, cell: str, sentences: list[str]) -> str:
        rng = self.rng
        text = _text(sentences, self.names[cell], rng.randrange(1, 28), rng.randrange(1, 13))
        body = {"meeting_id": f"{cell}/{len(self.envelopes)}", "kind": "regular",
                "held_at": T0 - rng.randrange(200) * DAY, "mode": "in_person", "chair": "sec-central",
                "secretary": "sec-central", "attendees": [], "agenda": [], "opinions": [], "votes": [],
                "decisions": [], "text": text}
        env = self.org.envelope("minutes", cell, body, ["sec-central"])
        self.envelopes.append(env)
        return env.doc_id

    def apply(self) -> None:
        self.rng.shuffle(self.envelopes)
        ledger = self.ledger
        for i in range(0, len(self.envelopes), 50):
            ledger.apply_block(BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash,
                                             timestamp=T0 + ledger.height * DAY, proposer="n1", term=1,
                                             envelopes=tuple(e.to_bytes() for e in self.envelopes[i:i + 50])))


def build_labelled(seed: int = 1, *, families: int = 30, different: int = 60) -> Labelled:
    b = _Builder(seed)
    rng = b.rng
    family: dict[str, int | None] = {}
    kinds: dict[str, str] = {}

    def minutes(cell: str, sentences: list[str], group: int | None, kind: str) -> None:
        doc_id = b.minutes(cell, sentences)
        family[doc_id], kinds[doc_id] = group, kind

    for f in range(families):
        base = _base(rng)
        cells = rng.sample(CELLS, 4)
        minutes(cells[0], base, f, "base")
        minutes(cells[1], base, f, "copy")
        minutes(cells[2], _paraphrase(rng, base), f, "paraphrase")
        if rng.random() < 0.5:
            minutes(cells[3], _paraphrase(rng, base), f, "paraphrase")
    for _ in range(different):
        minutes(rng.choice(CELLS), _base(rng), None, "different")
    b.apply()
    return Labelled(views=b.views, family=family, kinds=kinds)


@dataclass
class Graded:
    views: Views
    pairs: list[tuple[str, str, float]]  # (record id, record id, exact Jaccard of what the detector sees)


def build_graded(seed: int = 1, *, pairs: int = 200) -> Graded:
    """`pairs` pairs of minutes (module docstring), each from its own base text."""
    from views.similarity import _name_words, shingles, words

    b = _Builder(seed)
    rng = b.rng
    made = []
    for _ in range(pairs):
        base = _base(rng)
        variant = list(base)
        for i in rng.sample(range(len(base)), rng.randrange(len(base) // 2 + 1)):
            variant[i] = _sentence(rng)
        a_cell, b_cell = rng.sample(CELLS, 2)
        made.append((b.minutes(a_cell, base), a_cell, b.minutes(b_cell, variant), b_cell))
    texts = {e.doc_id: e.doc.body["text"] for e in b.envelopes}
    b.apply()
    out = []
    with b.views.reader() as r:
        names: dict = {}
        for a, a_cell, c, c_cell in made:
            sa = shingles(words(texts[a], _name_words(r, a_cell, names)))
            sc = shingles(words(texts[c], _name_words(r, c_cell, names)))
            out.append((a, c, len(sa & sc) / len(sa | sc)))
    return Graded(views=b.views, pairs=out)


def graded_found(graded: Graded, threshold: float) -> list[tuple[float, bool]]:
    """(exact Jaccard, whether the two fall in one group at `threshold`) for every graded pair."""
    from views.similarity import near_duplicates

    with graded.views.reader() as r:
        groups = near_duplicates(r, "central", threshold=threshold, limit=10_000)["groups"]
    group_of = {m["record_id"]: i for i, g in enumerate(groups) for m in g["members"]}
    return [(j, a in group_of and group_of.get(c) == group_of[a]) for a, c, j in graded.pairs]


def pair_scores(labelled: Labelled, threshold: float) -> dict:
    """Precision and recall over pairs: a pair is predicted when both records fall in one group of
    near-duplicates at `threshold`, and is a true pair when they come from one family."""
    from views.similarity import near_duplicates

    with labelled.views.reader() as r:
        groups = near_duplicates(r, "central", threshold=threshold, limit=10_000)["groups"]
    predicted = {frozenset(p) for g in groups for p in combinations([m["record_id"] for m in g["members"]], 2)}
    by_family: dict[int, list[str]] = {}
    for rid, f in labelled.family.items():
        if f is not None:
            by_family.setdefault(f, []).append(rid)
    truth = {frozenset(p) for members in by_family.values() for p in combinations(members, 2)}
    hits = len(predicted & truth)
    return {"threshold": threshold, "predicted": len(predicted), "true": len(truth), "hits": hits,
            "precision": hits / len(predicted) if predicted else 1.0, "recall": hits / len(truth) if truth else 1.0}
