"""The sample organisation's documents (client/sample_org.py has the people and
units), grouped into phases: each phase needs only earlier phases committed,
because the leader checks a submission against the committed registry.

The body of each document type follows ledger/documents.py; this module is the
only place the devnet knows those shapes.
"""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sample_org import SampleOrg

__all__ = ["build_phases"]

DAY_MS = 86_400_000
MONTH_MS = 30 * DAY_MS
MONTHS = 6
SKIP_LAST_MONTHS = {"central/p1/k2/s3", "central/p2/k1/s2"}  # these cells show as overdue
_ABSENCE = ["ốm", "đi công tác", "việc gia đình", "đi làm ăn xa"]
_TOPICS = ["kế hoạch sản xuất vụ mùa", "xây dựng đường liên thôn", "phòng chống thiên tai",
           "công tác phát triển đảng viên", "học tập nghị quyết", "chăm lo gia đình chính sách",
           "giữ gìn an ninh trật tự", "chuyển đổi số ở cơ sở"]


def _doc_id(org: "SampleOrg", doc: dict) -> str:
    from ledger.documents import Document
    from ledger.encoding import normalize

    return Document.from_obj(normalize(doc)).doc_id


def build_phases(org: "SampleOrg") -> list[tuple[str, list[tuple[dict, list[str]]]]]:
    rng = random.Random(org.seed * 7919)
    anchor = org.anchor_ms
    seq = [0]

    def created() -> int:
        # Deterministic and increasing; just after genesis (documents are signed now, about the past).
        seq[0] += 1
        return anchor + seq[0]

    root_secretary = org._officer("central", "secretary")
    phases: list[tuple[str, list[tuple[dict, list[str]]]]] = []

    # -- units, level by level --
    for kind, label in (("province", "provinces"), ("committee", "district committees"), ("cell", "cells")):
        docs = []
        for unit in org.units:
            if unit.kind != kind:
                continue
            parent = unit.path.rpartition("/")[0]
            body = {"action": "create", "path": unit.path, "name": unit.name, "kind": unit.kind}
            docs.append((org._doc(f"unit/{unit.path}", "org_unit", parent, body, created()), [root_secretary]))
        phases.append((label, docs))

    newcomers = [m for m in org.members if not m.in_genesis]
    admitted_at = anchor - 400 * DAY_MS
    # -- admissions (with each member's key) and roles (the central secretary acts for every unit below) --
    phases.append(("admissions", [
        (org._doc(f"admit/{m.member_id}", "member_status", m.unit,
                  {"member": m.member_id, "change": "admitted", "effective_at": admitted_at + i * 60_000,
                   "reason": "Kết nạp theo nghị quyết của chi bộ", "name": m.name,
                   "public_key": org.public_key(m.member_id)}, created()),
         [root_secretary])
        for i, m in enumerate(newcomers)]))
    phases.append(("roles", [
        (org._doc(f"role/{m.member_id}/{role}", "role", m.unit,
                  {"action": "grant", "member": m.member_id, "role": role, "unit": m.unit}, created()),
         [root_secretary])
        for m in newcomers for role in m.roles]))

    # -- six months of meetings in every unit, then the resolutions they adopted --
    minutes_docs, resolution_docs = [], []
    for unit in org.units:
        members = [m for m in org.members if m.unit == unit.path]
        chair = org._officer(unit.path, "deputy_secretary")
        secretary = org._officer(unit.path, "secretary")
        for month in range(MONTHS):
            if unit.path in SKIP_LAST_MONTHS and month >= MONTHS - 2:
                continue
            scheduled = anchor - (MONTHS - month) * MONTH_MS + 5 * DAY_MS
            late = rng.random() < 0.15
            held = scheduled + (9 * DAY_MS if late else rng.randrange(0, 2) * DAY_MS) + 19 * 3_600_000
            attendees = []
            for m in members:
                present = rng.random() > 0.12 or m.member_id in (chair, secretary)
                entry = {"member": m.member_id, "present": present}
                if not present:
                    entry["reason"] = rng.choice(_ABSENCE)
                attendees.append(entry)
            present_ids = [a["member"] for a in attendees if a["present"]]
            topics = rng.sample(_TOPICS, 2)
            opinions = [{"member": rng.choice(present_ids), "topic": rng.choice(topics),
                         "summary": f"Đề nghị tăng cường {rng.choice(topics)}"} for _ in range(rng.randrange(1, 5))]
            against = rng.randrange(0, 2)
            abstain = rng.randrange(0, 2)
            not_voting = min(rng.randrange(0, 3), len(present_ids) - against - abstain)  # present, no ballot
            votes = [{"motion": f"Thông qua nghị quyết về {topics[0]}",
                      "for": len(present_ids) - against - abstain - not_voting,
                      "against": against, "abstain": abstain}]
            meeting_id = f"{unit.path}/{month + 1:02d}"
            body = {
                "meeting_id": meeting_id, "kind": "regular", "scheduled_for": scheduled, "held_at": held,
                "mode": rng.choice(["in_person", "in_person", "hybrid", "online"]), "chair": chair,
                "secretary": secretary, "attendees": attendees, "agenda": topics, "opinions": opinions,
                "votes": votes, "decisions": [f"Giao chi ủy xây dựng kế hoạch {topics[0]}"],
                "text": f"Sinh hoạt thường kỳ tháng {month + 1} của {unit.name}.",
            }
            minutes = org._doc(f"minutes/{meeting_id}", "minutes", unit.path, body, created())
            minutes_docs.append((minutes, [chair, secretary]))
            if unit.kind == "cell":
                resolution = {
                    "number": f"{month + 1:02d}/NQ-{unit.path.rsplit('/', 1)[-1].upper()}",
                    "title": f"Nghị quyết về {topics[0]}", "text": f"Chi bộ thống nhất {topics[0]}.",
                    "adopted_at": held, "minutes": _doc_id(org, minutes),
                    "tally": {"for": votes[0]["for"], "against": against, "abstain": abstain,
                              "eligible": len(members)},
                    "tasks": [{"owner": secretary, "due": held + 30 * DAY_MS,
                               "description": f"Tổ chức thực hiện {topics[0]}"}],
                }
                resolution_docs.append((org._doc(f"resolution/{meeting_id}", "resolution", unit.path, resolution,
                                                 created(), refs=[_doc_id(org, minutes)]), [secretary]))
    phases.append(("minutes", minutes_docs))
    phases.append(("resolutions", resolution_docs))

    # -- status changes and an inspection --
    plain = [m for m in newcomers if not m.roles]
    changes = []
    for i, m in enumerate(plain[:6]):
        changes.append((m, "made_full", "Hết thời gian dự bị, đủ điều kiện", None))
    changes.append((plain[7], "award", "Hoàn thành xuất sắc nhiệm vụ năm", None))
    changes.append((plain[8], "warning", "Không sinh hoạt chi bộ ba tháng liền không có lý do", None))
    mover = plain[9]
    sibling = next(u.path for u in org.units if u.kind == "cell" and u.path != mover.unit
                   and u.path.rpartition("/")[0] == mover.unit.rpartition("/")[0])
    changes.append((mover, "transferred", "Chuyển nơi cư trú", sibling))
    status_docs = []
    for i, (m, change, reason, to_org) in enumerate(changes):
        body = {"member": m.member_id, "change": change, "effective_at": anchor - (20 - i) * DAY_MS,
                "reason": reason}
        signer = org._officer(m.unit, "secretary")
        if to_org:
            body["to_org"] = to_org
            signer = org._officer(m.unit.rpartition("/")[0], "secretary")
        status_docs.append((org._doc(f"status/{m.member_id}/{change}", "member_status", m.unit, body, created()),
                            [signer]))
    phases.append(("status changes", status_docs))
    subject = sorted(SKIP_LAST_MONTHS)[0]
    committee = subject.rpartition("/")[0]
    inspector = org._officer(committee, "inspector")
    finding = {
        "inspection_id": f"KT-{hashlib.sha256(subject.encode()).hexdigest()[:6].upper()}",
        "subject": {"unit": subject},
        "finding": "Chi bộ không tổ chức sinh hoạt thường kỳ hai tháng gần đây.",
        "severity": "major",
        "recommendations": ["Tổ chức sinh hoạt bù trong tháng", "Chi ủy kiểm điểm trách nhiệm"],
    }
    phases.append(("inspection", [(org._doc(f"finding/{subject}", "inspection_finding", committee, finding,
                                            created()), [inspector])]))
    return phases
