"""Near-duplicate minutes and repeated opinions (views/similarity.py): the signature's estimate
against exact Jaccard, precision and recall on a labelled set (tests/views/labelled.py) at the
default threshold, names and dates left out, corrections taken back, and opinions counted."""

from __future__ import annotations

import random

from ledger.blocks import BlockProposal
from ledger.ledger import Ledger
from ledger.store import MemoryStore
from tests.ledger.factory import CELLS, DAY, T0, make_org
from views import Views
from views.similarity import DEFAULT_THRESHOLD, near_duplicates, repeated_opinions, shingles, signature, similarity, words

from .labelled import _OBJECTS, _SUBJECTS, _VERBS, build_labelled, pair_scores

PRECISION_FLOOR, RECALL_FLOOR = 0.95, 0.9


def test_the_estimate_follows_exact_jaccard():
    """Over 300 random pairs the share of equal bins stays within a few hundredths of the exact
    Jaccard similarity of the shingle sets (128 bins: standard error about 0.044 at J = 0.5)."""
    rng = random.Random(5)
    vocab = " ".join(_SUBJECTS + _VERBS + _OBJECTS).split()
    errors = []
    for _ in range(300):
        a = [rng.choice(vocab) for _ in range(rng.randrange(20, 400))]
        b = list(a)
        for _ in range(rng.randrange(len(a) // 2 + 1)):
            b[rng.randrange(len(b))] = rng.choice(vocab)
        sa, sb = shingles(a), shingles(b)
        errors.append(abs(similarity(signature(a), signature(b)) - len(sa & sb) / len(sa | sb)))
    errors.sort()
    assert errors[len(errors) // 2] < 0.04 and errors[int(len(errors) * 0.95)] < 0.11, errors[-5:]


def test_identical_texts_have_identical_signatures_and_short_ones_none():
    ws = words("Chi bộ triển khai kế hoạch sản xuất vụ mùa trong tháng tới có hiệu quả cao nhất.")
    assert signature(ws) == signature(list(ws)) and signature(ws[:5]) is None


def test_words_leave_out_numbers_dates_and_the_given_names():
    assert words("Ngày 12/3/2026, Chi bộ Thôn Đông họp (lần 2).", frozenset({"thôn", "đông"})) == \
        ["ngày", "chi", "bộ", "họp", "lần"]


def test_precision_and_recall_on_the_labelled_set_meet_the_floor():
    scores = pair_scores(build_labelled(1), DEFAULT_THRESHOLD)
    assert scores["precision"] >= PRECISION_FLOOR and scores["recall"] >= RECALL_FLOOR, scores


def _ledger():
    org = make_org(2)
    names = iter(["Chi bộ Thôn Đông", "Chi bộ Thôn Tây", "Chi bộ Bản Mồ", "Chi bộ Khu Ba", "Chi bộ Xóm Chợ",
                  "Chi bộ Trạm Y tế"])
    for unit in org.genesis["units"]:
        if unit["path"] in CELLS:
            unit["name"] = next(names)
    views = Views()
    return org, views, Ledger(MemoryStore(), org.genesis, observers=[views])


def _apply(ledger, envelopes, day):
    ledger.apply_block(BlockProposal(height=ledger.height + 1, prev_hash=ledger.head_hash, timestamp=T0 + day * DAY,
                                     proposer="n1", term=1, envelopes=tuple(e.to_bytes() for e in envelopes)))


_TEXT = ("Ngày {d} tháng {m} năm 2026, {name} họp thường kỳ. Đồng chí bí thư triển khai kế hoạch sản xuất vụ mùa "
         "trong tháng tới. Các đảng viên thống nhất việc xây dựng đường liên thôn với sự tham gia của nhân dân. "
         "Chi ủy phân công rà soát công tác phát triển đảng viên đúng quy định.")


def _minutes(org, cell, text, n, opinions=()):
    body = {"meeting_id": f"{cell}/{n}", "kind": "regular", "held_at": T0 - n * DAY, "mode": "in_person",
            "chair": "sec-central", "secretary": "sec-central", "attendees": [], "agenda": [],
            "opinions": [{"member": "sec-central", "topic": "kế hoạch", "summary": s} for s in opinions],
            "votes": [], "decisions": [], "text": text}
    return org.envelope("minutes", cell, body, ["sec-central"])


def test_copies_with_the_unit_name_and_dates_changed_are_one_group_and_a_withdrawal_takes_one_back():
    org, views, ledger = _ledger()
    names = {u["path"]: u["name"] for u in org.genesis["units"]}
    a = _minutes(org, CELLS[0], _TEXT.format(d=3, m=4, name=names[CELLS[0]]), 1)
    b = _minutes(org, CELLS[3], _TEXT.format(d=17, m=9, name=names[CELLS[3]]), 2)
    other = _minutes(org, CELLS[1], "Chi bộ họp bàn về công tác khuyến học khuyến tài và vệ sinh môi trường ở từng "
                                    "hộ gia đình trước mùa mưa bão, giao hội phụ nữ đôn đốc báo cáo kết quả.", 3)
    _apply(ledger, [a, b, other], 1)
    with views.reader() as r:
        [group] = near_duplicates(r, "central")["groups"]
        assert {m["doc_id"] for m in group["members"]} == {a.doc_id, b.doc_id}
        # "đường liên thôn": the first cell's name has "Thôn", so its text loses that word, the other's not
        assert group["similarity"]["min"] > 0.9 and group["units"] == 2 and not group["same_unit"]
        assert near_duplicates(r, CELLS[3])["groups"] and not near_duplicates(r, CELLS[1])["groups"]
    _apply(ledger, [org.amendment(b, action="withdraw", signers=["sec-central"])], 2)
    with views.reader() as r:
        assert near_duplicates(r, "central")["groups"] == []


def test_opinions_repeated_across_meetings_and_within_one_are_counted():
    org, views, ledger = _ledger()
    same = "Nhất trí với báo cáo của chi ủy."
    docs = [_minutes(org, CELLS[i], f"Biên bản {i}", 10 + i, opinions=[same, "Đề nghị làm đường."] if i else
                     [same, same, "nhất trí với báo cáo của Chi ủy"]) for i in range(4)]
    _apply(ledger, docs, 1)
    with views.reader() as r:
        found = repeated_opinions(r, "central")
        top = found["wordings"][0]
        assert top["text"] == same and top["meetings"] == 4 and top["opinions"] == 6
        assert [m["doc_id"] for m in found["meetings_repeating"]] == [docs[0].doc_id]
        assert found["meetings_repeating"][0]["repeated_opinions"] == 3
        assert repeated_opinions(r, CELLS[1])["wordings"] == []  # one meeting there
