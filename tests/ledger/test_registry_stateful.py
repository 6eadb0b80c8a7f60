"""The registry under random sequences of valid and invalid documents
(hypothesis RuleBasedStateMachine). After every step: each member is in exactly
one existing unit, statuses are legal (a terminal one never changes and holds no
role), a rejected document changed nothing, a
revoked key authorised nothing later; at the end a replay into a fresh
registry reaches the same state hash."""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.documents import Envelope
from ledger.errors import MinutebookError
from ledger.genesis import Genesis
from ledger.keys import public_key
from ledger.registry import TERMINAL, Registry
from ledger.schemas import MEMBER_CHANGES, ROLES
from ledger.store import MemoryStore, Overlay
from tests.ledger.factory import T0, make_org

STATUSES = {"probationary", "full", "suspended", "expelled", "resigned", "deceased"}


class RegistryMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.org = make_org()
        self.reg = Registry.bootstrap(Overlay(MemoryStore()), Genesis.from_json(self.org.genesis))
        self.at = T0
        self.applied: list[tuple[bytes, int]] = []
        self.keys = {m: [s] for m, s in self.org.seeds.items()}  # every seed a member ever had
        self.revoked: dict[bytes, int] = {}  # key -> revoked at
        self.fresh = 0
        self.final: dict[str, str] = {}  # member -> terminal status, once reached

    # -- helpers --------------------------------------------------------------------

    def members(self):
        return sorted(k[4:].decode() for k, _ in self.reg.view.scan(b"r/m/"))

    def units(self):
        return sorted(k[4:].decode() for k, _ in self.reg.view.scan(b"r/u/"))

    def signer(self, data, right: str):
        """Usually the right signer with a current key; sometimes anyone, any key."""
        who = right if data.draw(st.integers(0, 5)) else data.draw(st.sampled_from(self.members()))
        seed = data.draw(st.sampled_from(self.keys.get(who) or [bytes(32)]))
        return who, seed

    def submit(self, env: Envelope):
        self.at += 1000
        before = list(self.reg.view.scan(b""))
        try:
            self.reg.apply(env, self.at)
        except MinutebookError:
            assert list(self.reg.view.scan(b"")) == before, "a rejected document changed the state"
            return False
        for s in env.sigs:
            revoked_at = self.revoked.get(s.key)
            assert revoked_at is None or self.at < revoked_at, "a revoked key authorised a document"
        self.applied.append((env.to_bytes(), self.at))
        body = env.doc.body
        if env.doc.type == "member_key" and body["action"] == "revoke":
            self.revoked[body["public_key"]] = self.at
        return True

    def build(self, type_, org, body, who, seed):
        return self.org.envelope(type_, org, body, [who], seeds={who: seed})

    # -- rules ------------------------------------------------------------------------

    @rule(data=st.data(), change=st.sampled_from(MEMBER_CHANGES))
    def member_status(self, data, change):
        members = self.members()
        if change == "admitted":
            self.fresh += 1
            member = f"new{self.fresh}"
            unit = data.draw(st.sampled_from(self.units()))
        else:
            member = data.draw(st.sampled_from(members))
            unit = self.reg.member(member)["unit"]
        body = {"member": member, "change": change, "effective_at": self.at, "reason": "r"}
        if change == "transferred":
            body["to_org"] = data.draw(st.sampled_from(self.units()))
        if change == "admitted":
            seed = hashlib.sha256(member.encode()).digest()
            body["public_key"] = public_key(seed)
        who, sseed = self.signer(data, self.org.officer(unit if change != "transferred" else "central"))
        if self.submit(self.build("member_status", unit, body, who, sseed)) and change == "admitted":
            self.keys[member] = [seed]

    @rule(data=st.data(), grant=st.booleans(), role=st.sampled_from(ROLES))
    def role(self, data, grant, role):
        member = data.draw(st.sampled_from(self.members()))
        unit = data.draw(st.sampled_from(self.units()))
        who, seed = self.signer(data, self.org.secretary("central"))
        body = {"action": "grant" if grant else "revoke", "member": member, "role": role, "unit": unit}
        self.submit(self.build("role", unit, body, who, seed))

    @rule(data=st.data(), add=st.booleans())
    def member_key(self, data, add):
        member = data.draw(st.sampled_from(self.members()))
        unit = self.reg.member(member)["unit"]
        if add:
            self.fresh += 1
            new_seed = hashlib.sha256(f"k{self.fresh}".encode()).digest()
            key = public_key(new_seed)
        else:
            key = public_key(data.draw(st.sampled_from(self.keys.get(member) or [bytes(32)])))
        who, seed = self.signer(data, self.org.secretary("central"))
        body = {"action": "add" if add else "revoke", "member": member, "public_key": key}
        if self.submit(self.build("member_key", unit, body, who, seed)) and add:
            self.keys.setdefault(member, []).append(new_seed)

    @rule(data=st.data(), create=st.booleans())
    def org_unit(self, data, create):
        parent = data.draw(st.sampled_from(self.units()))
        path = f"{parent}/u{self.fresh}" if create else parent
        self.fresh += 1
        body = {"action": "create", "path": path, "name": "n", "kind": "cell"} if create else \
            {"action": "close", "path": path}
        org = path.rpartition("/")[0] or path
        who, seed = self.signer(data, self.org.secretary("central"))
        self.submit(self.build("org_unit", org, body, who, seed))

    @rule(data=st.data())
    def resolution(self, data):
        unit = data.draw(st.sampled_from(self.units()))
        body = dict(self.org.resolution("central").doc.body)
        who, seed = self.signer(data, self.org.secretary("central"))
        self.submit(self.build("resolution", unit, body, who, seed))

    @rule(data=st.data())
    def minutes(self, data):
        unit = data.draw(st.sampled_from(self.units()))
        chair = data.draw(st.sampled_from(self.members()))
        secretary = self.org.officer(unit) if data.draw(st.booleans()) else data.draw(st.sampled_from(self.members()))
        env = self.org.minutes("central")
        body = dict(env.doc.body, chair=chair, secretary=secretary)
        signers = sorted({chair, secretary}) if data.draw(st.integers(0, 4)) else [secretary]
        seeds = {m: data.draw(st.sampled_from(self.keys.get(m) or [bytes(32)])) for m in signers}
        self.submit(self.org.envelope("minutes", unit, body, signers, seeds=seeds))

    @rule(data=st.data())
    def finding(self, data):
        unit = data.draw(st.sampled_from(self.units()))
        subject = {"member": data.draw(st.sampled_from(self.members()))} if data.draw(st.booleans()) else \
            {"unit": data.draw(st.sampled_from(self.units()))}
        body = dict(self.org.finding("central").doc.body, subject=subject)
        who, seed = self.signer(data, self.org.inspector("central"))
        self.submit(self.build("inspection_finding", unit, body, who, seed))

    @rule(data=st.data(), action=st.sampled_from(["add", "remove"]), n=st.integers(1, 5),
          role=st.sampled_from(["voter", "learner"]))
    def node(self, data, action, n, role):
        body = {"action": action, "node_id": f"n{n}"}
        if action == "add":
            body.update(public_key=public_key(bytes([n]) * 32), peer_addr="x", role=role)
        who, seed = self.signer(data, self.org.secretary("central"))
        self.submit(self.build("node", "central", body, who, seed))

    # -- invariants -------------------------------------------------------------------

    @invariant()
    @precondition(lambda self: hasattr(self, "reg"))
    def members_are_in_exactly_one_existing_unit(self):
        placed: dict[str, list[str]] = {}
        for k, _ in self.reg.view.scan(b"r/um/"):
            unit, _, member = k[5:].decode().partition("\0")
            placed.setdefault(member, []).append(unit)
        members = self.members()
        assert sorted(placed) == members
        for m in members:
            rec = self.reg.member(m)
            assert placed[m] == [rec["unit"]] and self.reg.unit(rec["unit"]) is not None
            assert rec["status"] in STATUSES
            assert rec["status"] != "suspended" or rec.get("prior") in ("probationary", "full")
            if m in self.final:
                assert rec["status"] == self.final[m], f"{m} left terminal status {self.final[m]}"
            elif rec["status"] in TERMINAL:
                self.final[m] = rec["status"]
            if rec["status"] in TERMINAL:
                assert rec["roles"] == [], f"{m} is {rec['status']} but holds roles"
        for u in self.units():
            if self.reg.unit(u)["status"] == "closed":
                assert all(self.reg.member(m)["status"] not in ("probationary", "full", "suspended")
                           for m in self.reg.members_of(u))
        assert self.reg.voters()

    def teardown(self):
        if not hasattr(self, "reg"):
            return
        fresh = Registry.bootstrap(Overlay(MemoryStore()), Genesis.from_json(self.org.genesis))
        for data, at in self.applied:
            fresh.apply(Envelope.from_bytes(data), at)
        assert fresh.state_hash() == self.reg.state_hash()
        assert list(fresh.view.scan(b"")) == list(self.reg.view.scan(b""))


RegistryMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None,
                                             suppress_health_check=[HealthCheck.too_slow])
TestRegistryStateful = RegistryMachine.TestCase
