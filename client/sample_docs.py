"""The sample organisation's documents (client/sample_org.py has the people and
units), grouped into phases: each phase needs only earlier phases committed,
because the leader checks a submission against the committed registry.

The sample is consistent with itself, so that every figure, list and warning
computed from it tells a true story (tests/client/test_sample_org.py checks
each rule from the documents alone):

- **Members.** Everyone was admitted on a date of their own, decades ago for
  most (some before 1970), and made full a year later; cell and committee
  officers are full members. In each cell one member was admitted in the
  last year and is still probationary, and in half the cells one was
  admitted about fifteen months ago and made full during the year.
- **A year of monthly minutes** in every unit: ``meeting_id`` is
  ``<unit>/<YYYY-MM>``, held in that calendar month (the chain's zone,
  genesis ``time_zone``), and the text names that month. Meetings are
  scheduled on one day of every month, the year's last about ten days before
  the anchor (the load's "now"), so that whatever day the devnet starts, every
  unit met within the views' overdue window (31 days) but two cells, which
  held no meeting in the last two months: they are overdue, and an
  inspection finding says so. A late meeting is held nine days after its
  date, still in its month and before the anchor.
- **Attendance** lists exactly the unit's members on the meeting date
  (admitted by then, not yet transferred away; the transferred member moves
  to the sibling cell's list). Every absence has a reason, except one
  member's three meetings in a row without one; that member, and no other,
  is warned for it, after the third.
- **Votes and resolutions**: ballots never exceed the members present; a
  cell's resolution carries its meeting's tally with the roll as eligible.
- **One duplicate attempt**: a second minutes of a meeting already recorded,
  which the ledger refuses (``duplicate_record``); the devnet prints it.
  **One amendment**: a correction of one meeting's minutes (an opinion left
  out), signed by its chair and secretary.
- **Profile entries**: education and political theory of officers, training
  of the new members.
- **Committee work** (:func:`_committee`): a province's directive to its
  cells issued three weeks before the anchor with acknowledgements due ten
  days before it, so the four cells that acknowledge are late and
  :data:`UNANSWERED` two never do (overdue: warned); the central unit's
  directive to the whole tree, acknowledged on time by most, with progress
  and final reports. Resolution tasks: those of the year's first nine
  months reported done (late: after their due date), the two months after
  done in some cells and left overdue in others, the last month's in
  progress, one :data:`BLOCKED` as blocked with its reason. Two polls in
  :data:`POLL_UNIT`, both closed early by the secretary who opened them:
  one answered by three members of fifteen (quorum missed), one by eleven,
  one of whom changes their vote. And the cell :data:`COPIED` [1] files, for
  the year's last three months, minutes that are copies of
  :data:`COPIED` [0]'s with its own name put in (near-duplicates).

Every document is deterministic (nonce from a label, ``created_at`` just
after genesis), so a reload finds each one committed. The body of each
document type follows ledger/schemas.py; this module is the only place the
devnet knows those shapes. To add an area (directives, polls...), write a
builder ``_<area>(ctx) -> list[phase]`` and list it in :data:`BUILDERS`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .sample_org import SampleMember, SampleOrg

__all__ = ["build_phases", "expected_refusals", "BUILDERS", "MONTHS", "SKIP_LAST_MONTHS", "WARNED_UNIT",
           "DUPLICATE_LABEL", "COPIED", "COPIED_MONTHS", "LATE_DIRECTIVE", "UNANSWERED", "BLOCKED", "POLL_UNIT"]

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
MONTHS = 12
SKIP_LAST_MONTHS = frozenset({"central/p1/k2/s3", "central/p2/k1/s2"})  # overdue: no meeting in the last two months
WARNED_UNIT = "central/p1/k1/s1"   # one member absent without reason three meetings in a row, then warned
WARNED_MONTHS = (5, 6, 7)           # 0-based months of the year with the unexplained absences
TRANSFER_UNIT = "central/p1/k2/s1"  # one member moves to the next cell ...
TRANSFER_MONTH = 8                  # ... between that month's meeting and the next
AWARD_UNIT = "central/p2/k2/s1"
LAST_MEETING_AGO = 10 * DAY_MS       # the year's last meeting is scheduled about this long before the anchor
LATEST_MEETING_DAY = 18              # so that a late meeting (+ LATE_DAYS) stays in its month, February too
LATE_DAYS = 9
OLDEST_ADMISSION_YEAR = 1962        # times are signed unix ms: some members were admitted before 1970
AMENDED = ("central/p1/k1/s2", 3)   # (unit, month index) of the minutes corrected by an amendment
DUPLICATE_LABEL = "duplicate/minutes"
COPIED = ("central/p1/k1/s3", "central/p2/k2/s3")  # the second cell's last three minutes copy the first's
COPIED_MONTHS = 3
LATE_DIRECTIVE = "central/p1"      # its directive's acknowledgements were due before the anchor
UNANSWERED = ("central/p1/k1/s2", "central/p1/k2/s3")  # never acknowledge it
BLOCKED = "central/p2/k1/s3"       # its last month's task is blocked
POLL_UNIT = "central/p2/k1/s1"
_ABSENCE = ["ốm", "đi công tác", "việc gia đình", "đi làm ăn xa", "chăm con ốm", "đi học tập trung"]
_TOPICS = ["kế hoạch sản xuất vụ mùa", "xây dựng đường liên thôn", "phòng chống thiên tai",
           "công tác phát triển đảng viên", "học tập nghị quyết", "chăm lo gia đình chính sách",
           "giữ gìn an ninh trật tự", "chuyển đổi số ở cơ sở", "bảo vệ rừng đầu nguồn", "nước sạch nông thôn"]
_SAYINGS = [
    "Đề nghị chi ủy phân công đảng viên phụ trách từng nhóm hộ về {t}",
    "Cần báo cáo kết quả {t} với xã trước ngày 20",
    "Đề xuất vận động thêm {n} hộ tham gia {t}",
    "Nêu khó khăn về kinh phí cho {t}, đề nghị cấp trên hỗ trợ",
    "Góp ý tổ chức họp dân bàn về {t} vào cuối tuần",
    "Đề nghị biểu dương {n} hộ làm tốt {t}",
]
_SENTENCES = [
    "Chi bộ đã kiểm điểm việc thực hiện nghị quyết tháng trước, {n} trên {m} chỉ tiêu đạt yêu cầu.",
    "Về {t}, đã có {n} hộ đăng ký tham gia.",
    "Đồng chí bí thư quán triệt chủ trương của cấp trên về {t}.",
    "Các đảng viên thảo luận sôi nổi, thống nhất giải pháp cho {t}.",
    "Tình hình an ninh trật tự trên địa bàn ổn định; đã hòa giải {n} vụ việc.",
    "Quỹ đảng thu đủ {m} phần, nộp cấp trên đúng hạn.",
    "Chi bộ giao chi ủy theo dõi, đôn đốc {t} và báo cáo tại kỳ sinh hoạt sau.",
]


@dataclass
class _Context:
    """What the builders share: the org, a seeded rng, the months, the timeline of members."""

    org: "SampleOrg"
    rng: random.Random
    zone: str
    months: list[str]                      # YYYY-MM, oldest first
    meeting_day: int                       # the day of the month every regular meeting is scheduled for
    seq: list[int] = field(default_factory=lambda: [0])
    admitted: dict[str, int] = field(default_factory=dict)    # member -> effective_at of admission
    full: dict[str, int] = field(default_factory=dict)        # member -> effective_at of full membership
    moves: dict[str, tuple[int, str]] = field(default_factory=dict)  # member -> (when, to unit)
    minutes_ids: dict[tuple[str, int], str] = field(default_factory=dict)  # (unit, month) -> doc id
    minutes_docs: dict[tuple[str, int], tuple[dict, list[str]]] = field(default_factory=dict)
    resolution_ids: dict[tuple[str, int], str] = field(default_factory=dict)  # (cell, month) -> doc id
    refusals: dict[str, str] = field(default_factory=dict)   # doc id -> error code expected

    def created(self) -> int:
        # Deterministic and increasing; just after genesis (documents are signed now, about the past).
        self.seq[0] += 1
        return self.org.anchor_ms + self.seq[0]

    def at(self, month: str, day: int, hour: int = 0, minute: int = 0) -> int:
        from ledger.timefmt import parse_time

        return parse_time(f"{month}-{day:02d}T{hour:02d}:{minute:02d}", "sample", tz=self.zone)

    def unit_at(self, member: "SampleMember", when: int) -> str:
        move = self.moves.get(member.member_id)
        return move[1] if move and when >= move[0] else member.unit

    def roll(self, unit: str, when: int) -> list["SampleMember"]:
        """The unit's members on `when`: admitted by then and in the unit then."""
        return [m for m in self.org.members
                if self.admitted.get(m.member_id, -YEAR_MS * 1000) <= when and self.unit_at(m, when) == unit]


def _doc_id(doc: dict) -> str:
    from ledger.documents import Document
    from ledger.encoding import normalize

    return Document.from_obj(normalize(doc)).doc_id


def _month_number(month: str) -> int:
    return int(month[5:])


def _text(ctx: _Context, unit_name: str, month: str, topics: list[str], present: int, roll: int) -> str:
    rng = ctx.rng
    head = (f"Biên bản sinh hoạt thường kỳ tháng {_month_number(month)} năm {month[:4]} của {unit_name}; "
            f"có mặt {present} trên {roll} đảng viên.")
    body = [s.format(t=rng.choice(topics), n=rng.randrange(2, 30), m=rng.randrange(3, 12))
            for s in rng.sample(_SENTENCES, 4)]
    return " ".join([head, *body])


# -- the builders -----------------------------------------------------------------------------


def _units(ctx: _Context) -> list:
    org = ctx.org
    root_secretary = org._officer("central", "secretary")
    phases = []
    for kind, label in (("province", "provinces"), ("committee", "district committees"), ("cell", "cells")):
        docs = []
        for unit in org.units:
            if unit.kind != kind:
                continue
            parent = unit.path.rpartition("/")[0]
            body = {"action": "create", "path": unit.path, "name": unit.name, "kind": unit.kind}
            docs.append((org._doc(f"unit/{unit.path}", "org_unit", parent, body, ctx.created()), [root_secretary]))
        phases.append((label, docs))
    return phases


def _members(ctx: _Context) -> list:
    """Admissions (decades ago for most; one probationary member per cell), roles, and full membership."""
    org, rng = ctx.org, ctx.rng
    root_secretary = org._officer("central", "secretary")
    year_start = ctx.at(ctx.months[0], 1)
    newcomers = [m for m in org.members if not m.in_genesis]
    by_unit: dict[str, list] = {}
    for m in newcomers:
        by_unit.setdefault(m.unit, []).append(m)
    for unit, members in by_unit.items():
        cell = any(u.path == unit and u.kind == "cell" for u in org.units)
        for i, m in enumerate(members):
            if cell and i == len(members) - 1:  # admitted during the year: still probationary at the end
                ctx.admitted[m.member_id] = ctx.at(ctx.months[2 + rng.randrange(4)], 10 + rng.randrange(10))
                continue
            if cell and i == len(members) - 2 and rng.random() < 0.5:  # made full during the year
                admitted = year_start - YEAR_MS // 4 - rng.randrange(60) * DAY_MS
            else:
                year = rng.randrange(OLDEST_ADMISSION_YEAR, 2020) if not m.roles else rng.randrange(1975, 2012)
                admitted = ctx.at(f"{year:04d}-{rng.randrange(1, 13):02d}", 1 + rng.randrange(27))
            ctx.admitted[m.member_id] = admitted
            ctx.full[m.member_id] = admitted + YEAR_MS
    for m in org.members:
        if m.in_genesis:  # full in genesis; admitted long before it
            ctx.admitted[m.member_id] = ctx.at("1980-01", 15)
    admissions = [
        (org._doc(f"admit/{m.member_id}", "member_status", m.unit,
                  {"member": m.member_id, "change": "admitted", "effective_at": ctx.admitted[m.member_id],
                   "reason": "Kết nạp theo nghị quyết của chi bộ", "name": m.name,
                   "public_key": org.public_key(m.member_id)}, ctx.created()), [root_secretary])
        for m in newcomers]
    roles = [(org._doc(f"role/{m.member_id}/{role}", "role", m.unit,
                       {"action": "grant", "member": m.member_id, "role": role, "unit": m.unit}, ctx.created()),
              [root_secretary])
             for m in newcomers for role in m.roles]
    full = [(org._doc(f"status/{m.member_id}/made_full", "member_status", m.unit,
                      {"member": m.member_id, "change": "made_full", "effective_at": ctx.full[m.member_id],
                       "reason": "Hết thời gian dự bị, đủ tư cách đảng viên chính thức"}, ctx.created()),
             [root_secretary])
            for m in newcomers if m.member_id in ctx.full]
    return [("admissions", admissions), ("roles", roles), ("full membership", full)]


def _plain(ctx: _Context, unit: str) -> list["SampleMember"]:
    return [m for m in ctx.org.members if m.unit == unit and not m.roles and m.member_id in ctx.full]


def _status_changes(ctx: _Context) -> list:
    """The year's events: a transfer, an award, and the warning the minutes will bear out."""
    org = ctx.org
    mover = _plain(ctx, TRANSFER_UNIT)[0]
    sibling = TRANSFER_UNIT.rpartition("/")[0] + "/s2"
    when = ctx.at(ctx.months[TRANSFER_MONTH], 28)  # after that month's meeting, late or not
    ctx.moves[mover.member_id] = (when, sibling)
    warned = _plain(ctx, WARNED_UNIT)[0]
    last_absence_month = ctx.months[WARNED_MONTHS[-1]]
    absent_months = [str(_month_number(ctx.months[i])) for i in WARNED_MONTHS]
    changes = [
        (mover, "transferred", "Chuyển nơi cư trú", when, sibling, TRANSFER_UNIT.rpartition("/")[0]),
        (_plain(ctx, AWARD_UNIT)[1], "award", "Hoàn thành xuất sắc nhiệm vụ năm",
         ctx.at(ctx.months[-1], ctx.meeting_day + 1), None, None),
        (warned, "warning", f"Ba kỳ sinh hoạt liền (tháng {', '.join(absent_months)}) vắng mặt không có lý do",
         ctx.at(last_absence_month, 28), None, None),
    ]
    docs = []
    for m, change, reason, effective, to_org, signing_unit in changes:
        body = {"member": m.member_id, "change": change, "effective_at": effective, "reason": reason}
        if to_org:
            body["to_org"] = to_org
        signer = org._officer(signing_unit or m.unit, "secretary")
        docs.append((org._doc(f"status/{m.member_id}/{change}", "member_status", m.unit, body, ctx.created()),
                     [signer]))
    return [("status changes", docs)]


def _profiles(ctx: _Context) -> list:
    org, rng = ctx.org, ctx.rng
    docs = []
    for m in org.members:
        if m.in_genesis:
            continue
        unit = ctx.unit_at(m, ctx.org.anchor_ms)  # profile entries are signed in the member's unit now
        signer = org._officer(unit, "secretary")
        entries = []
        if m.roles:
            entries.append(("education", "Cử nhân Nông nghiệp", "Trường Đại học Nông Lâm"))
            entries.append(("political_theory", "Trung cấp lý luận chính trị", "Trường Chính trị tỉnh"))
        elif m.member_id not in ctx.full:
            entries.append(("training", "Lớp bồi dưỡng nhận thức về Đảng", "Trung tâm Chính trị huyện"))
        elif rng.random() < 0.2:
            entries.append(("education", "Tốt nghiệp trung học phổ thông", "Trường THPT huyện"))
        for i, (kind, title, institution) in enumerate(entries):
            started = ctx.admitted[m.member_id] - (3 - i) * YEAR_MS
            body = {"member": m.member_id, "kind": kind, "title": title, "institution": institution,
                    "started_at": started, "completed_at": started + YEAR_MS // 2, "result": "Khá"}
            docs.append((org._doc(f"profile/{m.member_id}/{kind}", "profile_entry", unit, body, ctx.created()),
                         [signer]))
    return [("profile entries", docs)]


def _meetings(ctx: _Context) -> list:
    """A year of monthly minutes in every unit, and a resolution per cell meeting."""
    org, rng = ctx.org, ctx.rng
    warned = _plain(ctx, WARNED_UNIT)[0].member_id
    minutes_docs, resolution_docs = [], []
    for unit in org.units:
        chair = org._officer(unit.path, "deputy_secretary")
        secretary = org._officer(unit.path, "secretary")
        for index, month in enumerate(ctx.months):
            if unit.path in SKIP_LAST_MONTHS and index >= MONTHS - 2:
                continue
            scheduled = ctx.at(month, ctx.meeting_day, 19)
            late = rng.random() < 0.12
            held = scheduled + (LATE_DAYS * DAY_MS if late else rng.randrange(0, 2) * DAY_MS)
            roll = ctx.roll(unit.path, held)
            attendees = []
            for m in roll:
                if unit.path == WARNED_UNIT and m.member_id == warned and index in WARNED_MONTHS:
                    attendees.append({"member": m.member_id, "present": False})  # no reason: the warning's ground
                elif m.member_id in (chair, secretary) or rng.random() > 0.1:
                    attendees.append({"member": m.member_id, "present": True})
                else:
                    attendees.append({"member": m.member_id, "present": False, "reason": rng.choice(_ABSENCE)})
            present = [a["member"] for a in attendees if a["present"]]
            topics = rng.sample(_TOPICS, 2)
            source = ctx.minutes_docs.get((COPIED[0], index)) if unit.path == COPIED[1] else None
            if source is not None and index >= MONTHS - COPIED_MONTHS:
                topics = list(source[0]["body"]["agenda"])  # a copy (the rng moves on as for any other)
            opinions = [{"member": rng.choice(present), "topic": t,
                         "summary": rng.choice(_SAYINGS).format(t=t, n=rng.randrange(2, 20))}
                        for t in (topics * 2)[:rng.randrange(1, 4)]]
            against, abstain = rng.randrange(0, 2), rng.randrange(0, 2)
            in_favour = max(0, len(present) - against - abstain - rng.randrange(0, 2))
            motion = f"Thông qua nghị quyết về {topics[0]}"
            votes = [{"motion": motion, "for": in_favour, "against": against, "abstain": abstain}]
            meeting_id = f"{unit.path}/{month}"
            body = {
                "meeting_id": meeting_id, "kind": "regular", "scheduled_for": scheduled, "held_at": held,
                "mode": rng.choice(["in_person", "in_person", "in_person", "hybrid", "online"]), "chair": chair,
                "secretary": secretary, "attendees": attendees, "agenda": topics, "opinions": opinions,
                "votes": votes, "decisions": [f"Giao chi ủy xây dựng kế hoạch {topics[0]}"],
                "text": _text(ctx, unit.name, month, topics, len(present), len(roll)),
            }
            if source is not None and index >= MONTHS - COPIED_MONTHS:
                copied_name = next(u.name for u in org.units if u.path == COPIED[0])
                body["text"] = source[0]["body"]["text"].replace(copied_name, unit.name)
                body["decisions"] = list(source[0]["body"]["decisions"])
            minutes = org._doc(f"minutes/{meeting_id}", "minutes", unit.path, body, ctx.created())
            ctx.minutes_ids[(unit.path, index)] = _doc_id(minutes)
            ctx.minutes_docs[(unit.path, index)] = (minutes, [chair, secretary])
            minutes_docs.append((minutes, [chair, secretary]))
            if unit.kind == "cell":
                resolution = {
                    "number": f"{_month_number(month):02d}-{month[:4]}/NQ-{unit.path.rsplit('/', 1)[-1].upper()}",
                    "title": f"Nghị quyết về {topics[0]}", "text": f"Chi bộ thống nhất triển khai {topics[0]}.",
                    "adopted_at": held, "minutes": ctx.minutes_ids[(unit.path, index)],
                    "tally": {"for": in_favour, "against": against, "abstain": abstain, "eligible": len(roll)},
                    "tasks": [{"owner": secretary, "due": held + 30 * DAY_MS,
                               "description": f"Tổ chức thực hiện {topics[0]}"}],
                }
                resolution_doc = org._doc(f"resolution/{meeting_id}", "resolution", unit.path, resolution,
                                          ctx.created(), refs=[ctx.minutes_ids[(unit.path, index)]])
                ctx.resolution_ids[(unit.path, index)] = _doc_id(resolution_doc)
                resolution_docs.append((resolution_doc, [secretary]))
    return [("minutes", minutes_docs), ("resolutions", resolution_docs)]


def _corrections(ctx: _Context) -> list:
    """One amendment (an opinion left out of one meeting's minutes), and one duplicate attempt."""
    org = ctx.org
    unit, index = AMENDED
    original, signers = ctx.minutes_docs[(unit, index)]
    body = dict(original["body"])
    present = [a["member"] for a in body["attendees"] if a["present"]]
    body["opinions"] = body["opinions"] + [{
        "member": present[-1], "topic": body["agenda"][0],
        "summary": f"Đề nghị bổ sung nguồn lực cho {body['agenda'][0]} (ý kiến bị ghi sót)"}]
    target = ctx.minutes_ids[(unit, index)]
    amendment = org._doc(f"amend/{target}", "amendment", unit,
                         {"target": target, "action": "amend", "reason": "Bổ sung ý kiến bị ghi sót trong biên bản",
                          "body": body}, ctx.created(), refs=[target])
    dup_unit, dup_index = WARNED_UNIT, 1
    copy, copy_signers = ctx.minutes_docs[(dup_unit, dup_index)]
    duplicate = org._doc(DUPLICATE_LABEL, "minutes", dup_unit,
                         {**copy["body"], "text": copy["body"]["text"] + " (gửi lại)"}, ctx.created())
    ctx.refusals[_doc_id(duplicate)] = "duplicate_record"
    return [("amendment", [(amendment, signers)]), ("duplicate attempt", [(duplicate, copy_signers)])]


def _inspection(ctx: _Context) -> list:
    org = ctx.org
    subject = sorted(SKIP_LAST_MONTHS)[0]
    committee = subject.rpartition("/")[0]
    inspector = org._officer(committee, "inspector")
    last = ctx.months[-3]
    finding = {
        "inspection_id": f"KT-{hashlib.sha256(subject.encode()).hexdigest()[:6].upper()}",
        "subject": {"unit": subject},
        "finding": f"Chi bộ không tổ chức sinh hoạt thường kỳ hai tháng gần đây (từ sau tháng "
                   f"{_month_number(last)} năm {last[:4]}).",
        "severity": "major",
        "recommendations": ["Tổ chức sinh hoạt bù trong tháng", "Chi ủy kiểm điểm trách nhiệm"],
    }
    return [("inspection", [(org._doc(f"finding/{subject}", "inspection_finding", committee, finding,
                                      ctx.created()), [inspector])])]


def _committee(ctx: _Context) -> list:
    """Directives and their answers, task reports and two polls (module doc, "Committee work")."""
    org, rng = ctx.org, ctx.rng
    anchor = org.anchor_ms
    cells = [u.path for u in org.units if u.kind == "cell"]
    late = {"number": "05-CT/TU", "title": "Chỉ thị về rà soát, sàng lọc đảng viên năm nay",
            "text": "Ban Thường vụ Tỉnh ủy yêu cầu các chi bộ rà soát danh sách đảng viên, báo cáo kết quả "
                    "sàng lọc và đề xuất biện pháp đối với đảng viên không đủ tư cách.",
            "issued_at": anchor - 21 * DAY_MS, "addressed": {"scope": "level", "kind": "cell"},
            "ack_due": anchor - 10 * DAY_MS, "report_due": anchor + 20 * DAY_MS}
    on_time = {"number": "12-CT/TW", "title": "Chỉ thị về tăng cường chuyển đổi số trong sinh hoạt chi bộ",
               "text": "Các cấp ủy lập kế hoạch số hóa biên bản, sổ sách; báo cáo tiến độ hằng tháng và báo cáo "
                       "kết quả khi hoàn thành.",
               "issued_at": anchor - DAY_MS, "addressed": {"scope": "subtree"},
               "ack_due": anchor + 15 * DAY_MS, "report_due": anchor + 45 * DAY_MS}
    directives = []
    for issuer, body in ((LATE_DIRECTIVE, late), ("central", on_time)):
        doc = org._doc(f"directive/{issuer}/{body['number']}", "directive", issuer, body, ctx.created())
        directives.append((doc, [org._officer(issuer, "secretary")]))
    late_id, on_time_id = (_doc_id(d) for d, _ in directives)
    acks, reports, finals = [], [], []

    def answer(kind: str, directive: str, unit: str, body: dict, into: list) -> None:
        doc = org._doc(f"{kind}/{directive}/{unit}", kind, unit, {"directive": directive, **body}, ctx.created(),
                       refs=[directive])
        into.append((doc, [org._officer(unit, "secretary")]))

    for unit in (c for c in cells if c.startswith(LATE_DIRECTIVE + "/") and c not in UNANSWERED):
        answer("directive_ack", late_id, unit, {"note": "Chi bộ đã nhận chỉ thị, chậm do họp muộn"}, acks)
    answering = [u.path for u in org.units if u.path != "central" and rng.random() < 0.8]
    for i, unit in enumerate(answering):
        answer("directive_ack", on_time_id, unit, {}, acks)
        if i % 3 == 0:
            answer("directive_report", on_time_id, unit,
                   {"final": False, "text": "Đã số hóa biên bản sáu tháng đầu năm."}, reports)
        if i % 5 == 0:
            answer("directive_report", on_time_id, unit,
                   {"final": True, "text": "Hoàn thành số hóa biên bản, sổ đảng viên."}, finals)
    tasks = []
    for cell in cells:
        owner = org._officer(cell, "secretary")
        for index in range(MONTHS):
            rid = ctx.resolution_ids.get((cell, index))
            if rid is None:
                continue
            if index < MONTHS - 3 or (index < MONTHS - 1 and rng.random() < 0.5):
                status, text = "done", "Đã hoàn thành, báo cáo chi bộ tại kỳ sinh hoạt sau."
            elif index == MONTHS - 1 and cell == BLOCKED:
                status, text = "blocked", "Vướng mặt bằng, chờ huyện hỗ trợ kinh phí."
            elif index == MONTHS - 1 and rng.random() < 0.6:
                status, text = "in_progress", "Đang triển khai, đã phân công đảng viên phụ trách."
            else:
                continue
            doc = org._doc(f"task_report/{rid}/0", "task_report", cell,
                           {"resolution": rid, "task": 0, "status": status, "text": text}, ctx.created(), refs=[rid])
            tasks.append((doc, [owner]))
    opener = org._officer(POLL_UNIT, "secretary")
    voters = [m.member_id for m in org.members if m.unit == POLL_UNIT]
    polls, ballots, changed, closes = [], [], [], []
    for poll_id, motion, turnout in (("P-01", "Thông qua phương án đóng góp xây dựng nhà văn hóa thôn", 3),
                                     ("P-02", "Thông qua kế hoạch trồng rừng phòng hộ ven biển", 11)):
        body = {"poll_id": poll_id, "motion": motion, "options": ["for", "against", "abstain"],
                # closes_at two years on, so that a sample loaded long after its anchor opens them too
                "closes_at": anchor + 2 * YEAR_MS, "quorum": {"num": 1, "den": 2, "strict": True},
                "eligible": "active", "text": "Lấy ý kiến đảng viên chi bộ trước kỳ sinh hoạt."}
        poll = org._doc(f"poll/{POLL_UNIT}/{poll_id}", "poll", POLL_UNIT, body, ctx.created())
        polls.append((poll, [opener]))
        pid = _doc_id(poll)
        for voter in voters[:turnout]:
            choice = "for" if rng.random() < 0.75 else rng.choice(["against", "abstain"])
            ballots.append((org._doc(f"ballot/{pid}/{voter}", "ballot", POLL_UNIT, {"poll": pid, "choice": choice},
                                     ctx.created(), refs=[pid]), [voter]))
        if turnout > 3:
            voter = voters[turnout - 1]
            changed.append((org._doc(f"ballot/{pid}/{voter}/again", "ballot", POLL_UNIT,
                                     {"poll": pid, "choice": "against"}, ctx.created(), refs=[pid]), [voter]))
        closes.append((org._doc(f"poll_close/{pid}", "poll_close", POLL_UNIT,
                                {"poll": pid, "note": "Đóng sớm: đã hết thời gian lấy ý kiến tại chi bộ."},
                                ctx.created(), refs=[pid]), [opener]))
    return [("directives", directives), ("acknowledgements", acks), ("directive reports", reports),
            ("final reports", finals), ("task reports", tasks), ("polls", polls), ("ballots", ballots),
            ("changed ballots", changed), ("poll closes", closes)]


BUILDERS: tuple[Callable[[_Context], list], ...] = (
    _units, _members, _status_changes, _profiles, _meetings, _corrections, _inspection, _committee)


def _context(org: "SampleOrg") -> _Context:
    """The months of the year of minutes and their meeting day (module doc): the last month is
    that of the anchor less LAST_MEETING_AGO, the day that one's, at most LATEST_MEETING_DAY."""
    from ledger.timefmt import format_date, month_of

    zone = org.time_zone
    last = org.anchor_ms - LAST_MEETING_AGO
    months = [month_of(last, zone)]
    for _ in range(MONTHS - 1):
        year, mon = int(months[0][:4]), int(months[0][5:])
        months.insert(0, f"{year - (mon == 1):04d}-{(mon - 2) % 12 + 1:02d}")
    day = min(int(format_date(last, zone)[8:]), LATEST_MEETING_DAY)
    return _Context(org=org, rng=random.Random(org.seed * 7919), zone=zone, months=months, meeting_day=day)


def build_phases(org: "SampleOrg") -> list[tuple[str, list[tuple[dict, list[str]]]]]:
    """The phases, in order (module doc): [(name, [(document, signer ids)])]."""
    ctx = _context(org)
    phases = []
    for builder in BUILDERS:
        phases.extend(builder(ctx))
    return phases


def expected_refusals(org: "SampleOrg") -> dict[str, str]:
    """Doc id -> the error code the ledger answers for it (the one duplicate attempt)."""
    ctx = _context(org)
    for builder in BUILDERS:
        builder(ctx)
    return dict(ctx.refusals)
