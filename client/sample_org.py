"""A sample organisation for the dev cluster, deterministic from a seed.

Shape: a central unit, 2 provinces, 4 district committees, 12 cells, about 200
members with keys and roles; a year of monthly minutes in every unit and a
resolution per cell meeting, members' admissions (decades ago for most) and
full membership, profile entries, a transfer, an award, a warning, one
amendment, one duplicate attempt that the ledger refuses, an inspection
finding, and committee work (directives answered late, on time or not at
all, task reports with one blocked task, a poll that misses its quorum and
one that meets it, two cells whose minutes are copies). client/sample_docs.py builds the documents and says which rules of
consistency they keep.

Names are Vietnamese-style with diacritics. Every fifth member's name is
produced in decomposed form (NFD) on purpose: the SDK must normalise it to NFC
before signing, or the ledger would refuse it.

Everything is a function of ``seed`` and ``anchor_ms`` (the genesis
``created_at``): member keys (seeds derived from the chain seed -- fine for a
dev cluster, never for a real one), document nonces and timestamps. So loading
again builds the very same documents, and the ones already committed answer
409: the load resumes where it stopped.

Only the central unit and its officers are in genesis; everything else is
created through the API by documents, as a real organisation would. The
genesis names the chain's time zone (``time_zone``, Asia/Ho_Chi_Minh), in
which the sample's months are counted.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SampleOrg", "SampleMember", "SampleUnit"]

DAY_MS = 86_400_000
MONTH_MS = 30 * DAY_MS

_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
           "Dương", "Lý"]
_MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "Thu", "Xuân"]
_GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương", "Khánh", "Lan", "Linh",
          "Long", "Mai", "Nam", "Nga", "Phúc", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Thắng", "Trang", "Tuấn",
          "Việt", "Yến", "Đạt", "Ánh", "Ngân"]
_PROVINCES = [("p1", "Tỉnh Hà Giang", [("k1", "Huyện Đồng Văn", ["Lũng Cú", "Sà Phìn", "Phố Bảng"]),
                                       ("k2", "Huyện Mèo Vạc", ["Pải Lủng", "Xín Cái", "Sơn Vĩ"])]),
              ("p2", "Tỉnh Cà Mau", [("k1", "Huyện Năm Căn", ["Hàm Rồng", "Đất Mới", "Tam Giang"]),
                                     ("k2", "Huyện Ngọc Hiển", ["Đất Mũi", "Viên An", "Tân Ân"])])]
CELL_MEMBERS = 15
OFFICER_ROLES = ("secretary", "deputy_secretary", "inspector")
TIME_ZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class SampleUnit:
    path: str
    name: str
    kind: str  # central | province | committee | cell


@dataclass
class SampleMember:
    member_id: str
    name: str
    unit: str
    roles: list[str] = field(default_factory=list)
    in_genesis: bool = False


def _nfc(value: Any) -> Any:
    from ledger.encoding import normalize

    return normalize(value)


class SampleOrg:
    def __init__(self, seed: int = 7, now_ms: int | None = None, *, anchor_ms: int | None = None,
                 time_zone: str = TIME_ZONE) -> None:
        import time

        self.seed = seed
        self.time_zone = time_zone
        self.anchor_ms = anchor_ms if anchor_ms is not None else (now_ms if now_ms is not None
                                                                   else int(time.time() * 1000))
        self.chain_id = f"minutebook-devnet-{seed}"
        rng = random.Random(seed)
        self.units: list[SampleUnit] = [SampleUnit("central", "Ban Chấp hành Trung ương", "central")]
        for p, pname, committees in _PROVINCES:
            self.units.append(SampleUnit(f"central/{p}", pname, "province"))
            for k, kname, cells in committees:
                self.units.append(SampleUnit(f"central/{p}/{k}", kname, "committee"))
                for i, cname in enumerate(cells, start=1):
                    self.units.append(SampleUnit(f"central/{p}/{k}/s{i}", f"Chi bộ thôn {cname}", "cell"))
        self.members: list[SampleMember] = []
        counter = 0

        def new_member(unit: str, roles: list[str], in_genesis: bool = False) -> SampleMember:
            nonlocal counter
            counter += 1
            name = f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"
            if counter % 5 == 0:
                name = unicodedata.normalize("NFD", name)  # the SDK must normalise this
            member = SampleMember(f"m{counter:04d}", name, unit, roles, in_genesis)
            self.members.append(member)
            return member

        for unit in self.units:
            if unit.kind == "cell":
                new_member(unit.path, ["secretary"])
                new_member(unit.path, ["deputy_secretary"])
                for _ in range(CELL_MEMBERS - 2):
                    new_member(unit.path, [])
            else:
                for role in OFFICER_ROLES:
                    new_member(unit.path, [role], in_genesis=unit.kind == "central")

    @classmethod
    def from_genesis(cls, genesis: dict) -> "SampleOrg":
        chain = str(genesis.get("chain_id", ""))
        seed = int(chain.rsplit("-", 1)[-1]) if chain.rsplit("-", 1)[-1].isdigit() else 7
        return cls(seed=seed, anchor_ms=int(genesis["created_at"]), time_zone=genesis.get("time_zone", TIME_ZONE))

    # -- keys --

    def seed_of(self, member_id: str) -> bytes:
        """Dev-only: member keys derived from the chain seed (never do this for real)."""
        return hashlib.sha256(f"minutebook-devnet/{self.seed}/{member_id}".encode()).digest()

    def public_key(self, member_id: str) -> bytes:
        from ledger.keys import public_key

        return public_key(self.seed_of(member_id))

    def key_file(self, member: SampleMember) -> str:
        return f"keys/members/{member.member_id}.json"

    def write_key(self, directory: Path, member: SampleMember) -> None:
        from ledger.keys import write_key_file

        path = directory / self.key_file(member)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_key_file(path, id_field="member_id", id=member.member_id, seed=self.seed_of(member.member_id))

    # -- genesis and members.json --

    def genesis_members(self) -> list[SampleMember]:
        return [m for m in self.members if m.in_genesis]

    def genesis(self, nodes: list[dict]) -> dict:
        from ledger.jsonfmt import b64e

        root = self.units[0]
        return _nfc({
            "chain_id": self.chain_id,
            "created_at": self.anchor_ms,
            "time_zone": self.time_zone,
            "units": [{"path": root.path, "name": root.name, "kind": root.kind}],
            "members": [{"member_id": m.member_id, "unit": m.unit, "status": "full", "roles": list(m.roles),
                         "public_key": b64e(self.public_key(m.member_id)), "name": m.name}
                        for m in self.genesis_members()],
            "nodes": nodes,
        })

    def members_json(self, directory: Path | None = None) -> list[dict]:
        if directory is not None:
            for m in self.members:
                self.write_key(directory, m)
        return [{"member_id": m.member_id, "org": m.unit, "roles": list(m.roles), "key_file": self.key_file(m)}
                for m in self.members]

    def example_resolution_yaml(self) -> str:
        """A document for trying `minutebook submit` (signed by the cell's secretary)."""
        unit = "central/p1/k1/s1"
        secretary = self._officer(unit, "secretary")
        return (
            "# Try: minutebook submit examples/resolution.yaml --key keys/members/" + secretary + ".json \\\n"
            "#        --node http://127.0.0.1:8101 --wait > receipt.json\n"
            "# v, nonce and created_at are filled in when signing; text is normalised to Unicode NFC.\n"
            "type: resolution\n"
            f"org: {unit}\n"
            "body:\n"
            "  number: 99/NQ-S1\n"
            "  title: Nghị quyết về trồng rừng phòng hộ\n"
            "  text: Chi bộ thống nhất trồng 5 ha rừng phòng hộ trong quý tới.\n"
            "  adopted_at: 2025-11-20T19:30:00Z\n"
            "  minutes: null\n"
            "  tally: {for: 12, against: 0, abstain: 1, eligible: 15}\n"
            "  tasks:\n"
            f"    - {{owner: {secretary}, due: 2026-02-28T00:00:00Z, description: Lập kế hoạch trồng rừng}}\n"
        )

    # -- documents --

    def _officer(self, unit: str, role: str = "secretary") -> str:
        """The holder of `role` in `unit` or the nearest ancestor that has one."""
        path = unit
        while path:
            for m in self.members:
                if m.unit == path and role in m.roles:
                    return m.member_id
            path = path.rpartition("/")[0]
        raise LookupError(f"no {role} above {unit}")

    def _nonce(self, label: str) -> bytes:
        return hashlib.sha256(f"minutebook-devnet/{self.seed}/nonce/{label}".encode()).digest()[:16]

    def _doc(self, label: str, type_: str, org: str, body: dict, created_at: int, refs: list | None = None) -> dict:
        return {"v": 1, "type": type_, "org": org, "body": body, "refs": refs or [], "created_at": created_at,
                "nonce": self._nonce(label)}

    def phases(self) -> list[tuple[str, list[tuple[dict, list[str]]]]]:
        """Documents with their signers, grouped so that each group needs only
        earlier groups committed. Built by client/sample_docs.py's builders."""
        from .sample_docs import build_phases

        return build_phases(self)

    def expected_refusals(self) -> dict[str, str]:
        """Doc id -> error code, for the documents the sample submits to be refused."""
        from .sample_docs import expected_refusals

        return expected_refusals(self)
