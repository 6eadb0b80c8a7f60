"""The registry under random sequences of valid and invalid documents
(hypothesis RuleBasedStateMachine). After every step: each member is in exactly
one existing unit, statuses are legal (a terminal one never changes and holds no
role), a rejected document changed nothing, a
revoked key authorised nothing later; one record per act (a keyed record is
accepted only while its key is free, refused as a duplicate only when it is
held), each record's current version is the model's, a directive answered
only by units it addresses and only once, a poll's roll is what the unit's
members were at opening, and its tally is a recount of the model's ballots;
at the end a replay into a fresh registry reaches the same state hash."""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.documents import Envelope
from ledger.errors import DuplicateRecord, MinutebookError
from ledger.genesis import Genesis
from ledger.keys import public_key
from ledger.registry import ACTIVE, TERMINAL, Registry
from ledger.registry_committee import is_addressed
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
        self.keys_held: dict[tuple, str] = {}  # record key -> doc id holding it
        self.records: dict[str, dict] = {}  # record doc id -> {env, current}
        self.acks: set[tuple[str, str]] = set()  # (directive, unit)
        self.polls: dict[str, dict] = {}  # poll doc id -> {env, roll, ballots: {voter: choice}, closed}

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

    def submit(self, env: Envelope, key: tuple | None = None):
        """Apply `env`; `key`: the record key it claims, checked against the model."""
        self.at += 1000
        before = list(self.reg.view.scan(b""))
        try:
            self.reg.apply(env, self.at)
        except MinutebookError as exc:
            assert list(self.reg.view.scan(b"")) == before, "a rejected document changed the state"
            if isinstance(exc, DuplicateRecord) and key is not None:
                assert exc.existing == self.keys_held[key], "a duplicate named the wrong record"
            return False
        if key is not None:
            assert key not in self.keys_held, f"a second record of {key} was accepted"
            self.keys_held[key] = env.doc_id
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

    def hot_unit(self, data) -> str:
        """Mostly one of a few units, so that records of one act meet again."""
        units = self.units()
        return data.draw(st.sampled_from(units[:3] if data.draw(st.integers(0, 3)) else units))

    def record(self, env: Envelope, key: tuple | None) -> None:
        if self.submit(env, key):
            self.records[env.doc_id] = {"env": env, "current": env.doc_id}

    @rule(data=st.data(), number=st.integers(1, 2))
    def resolution(self, data, number):
        unit = self.hot_unit(data)
        body = dict(self.org.resolution("central").doc.body, number=f"{number}/NQ")
        who, seed = self.signer(data, self.org.secretary("central"))
        self.record(self.build("resolution", unit, body, who, seed), ("resolution", unit, body["number"]))

    @rule(data=st.data(), meeting=st.integers(1, 2))
    def minutes(self, data, meeting):
        unit = self.hot_unit(data)
        chair = data.draw(st.sampled_from(self.members()))
        secretary = self.org.officer(unit) if data.draw(st.booleans()) else data.draw(st.sampled_from(self.members()))
        env = self.org.minutes("central")
        body = dict(env.doc.body, chair=chair, secretary=secretary, meeting_id=f"m{meeting}")
        signers = sorted({chair, secretary}) if data.draw(st.integers(0, 4)) else [secretary]
        seeds = {m: data.draw(st.sampled_from(self.keys.get(m) or [bytes(32)])) for m in signers}
        self.record(self.org.envelope("minutes", unit, body, signers, seeds=seeds), ("minutes", unit, f"m{meeting}"))

    @rule(data=st.data(), inspection=st.integers(1, 2))
    def finding(self, data, inspection):
        unit = self.hot_unit(data)
        subject = {"member": data.draw(st.sampled_from(self.members()))} if data.draw(st.booleans()) else \
            {"unit": data.draw(st.sampled_from(self.units()))}
        body = dict(self.org.finding("central").doc.body, subject=subject, inspection_id=f"KT-{inspection}")
        who, seed = self.signer(data, self.org.inspector("central"))
        key = ("inspection_finding", f"KT-{inspection}", tuple(subject.items()))
        self.record(self.build("inspection_finding", unit, body, who, seed), key)

    @rule(data=st.data())
    def profile_entry(self, data):
        member = data.draw(st.sampled_from(self.members()))
        unit = self.reg.member(member)["unit"]
        body = dict(self.org.profile_entry(member, org=unit, signers=[self.org.secretary("central")]).doc.body)
        who, seed = self.signer(data, self.org.secretary("central"))
        self.record(self.build("profile_entry", unit, body, who, seed), None)

    @precondition(lambda self: self.records)
    @rule(data=st.data(), withdraw=st.booleans(), rekey=st.integers(0, 6))
    def amendment(self, data, withdraw, rekey):
        original = data.draw(st.sampled_from(sorted(self.records)))
        rec = self.records[original]
        env = rec["env"]
        body = {"target": original, "action": "withdraw" if withdraw else "amend", "reason": "r"}
        if not withdraw:
            replacement = dict(env.doc.body)
            if env.doc.type == "minutes" and rekey == 0:
                replacement["meeting_id"] = "changed"  # must be refused: the key is kept
            elif "text" in replacement:
                replacement["text"] = f"amended {self.at}"
            body["body"] = replacement
        signers = sorted(env.signers) if data.draw(st.integers(0, 5)) else [data.draw(st.sampled_from(self.members()))]
        seeds = {m: (self.keys.get(m) or [bytes(32)])[-1] for m in signers}
        amendment = self.org.envelope("amendment", env.doc.org, body, signers, refs=[original], seeds=seeds)
        was = rec["current"]
        if self.submit(amendment):
            assert was is not None, "a withdrawn record was amended"
            assert withdraw or env.doc.type != "minutes" or rekey != 0, "an amendment changed the meeting id"
            rec["current"] = None if withdraw else amendment.doc_id

    @rule(data=st.data(), scope=st.sampled_from(["subtree", "level", "units"]))
    def directive(self, data, scope):
        units = self.units()
        above = [u for u in units if any(v.startswith(u + "/") for v in units)]
        unit = data.draw(st.sampled_from(above if data.draw(st.integers(0, 4)) else units))
        addressed = {"scope": scope}
        if scope == "level":
            addressed["kind"] = data.draw(st.sampled_from(["cell", "committee"]))
        elif scope == "units":
            addressed["units"] = sorted(set(data.draw(st.lists(st.sampled_from(self.units()), min_size=1,
                                                                max_size=3))))
        body = dict(self.org.directive(unit, signers=[self.org.officer(unit)]).doc.body, addressed=addressed)
        who, seed = self.signer(data, self.org.secretary("central"))
        self.record(self.build("directive", unit, body, who, seed), ("directive", unit, body["number"]))

    @precondition(lambda self: any(r["env"].doc.type == "directive" for r in self.records.values()))
    @rule(data=st.data())
    def directive_ack(self, data):
        directive = data.draw(st.sampled_from(sorted(d for d, r in self.records.items()
                                                     if r["env"].doc.type == "directive")))
        env = self.records[directive]["env"]
        below = [u for u in self.units() if u.startswith(env.doc.org + "/")]
        for _ in range(data.draw(st.integers(1, 3))):  # a few units per step
            unit = data.draw(st.sampled_from(below if below and data.draw(st.integers(0, 4)) else self.units()))
            addressed = is_addressed(env.doc.org, env.doc.body["addressed"], self.reg.record(directive)["at"],
                                     self.reg.unit(unit))
            who, seed = self.signer(data, self.org.officer(unit))
            ack = self.org.envelope("directive_ack", unit, {"directive": directive}, [who], refs=[directive],
                                    seeds={who: seed})
            if self.submit(ack):
                assert addressed, f"{unit} acknowledged a directive that does not address it"
                assert self.records[directive]["current"] is not None, "a withdrawn directive was acknowledged"
                assert (directive, unit) not in self.acks, "a unit acknowledged twice"
                self.acks.add((directive, unit))

    @rule(data=st.data(), full=st.booleans())
    def poll(self, data, full):
        unit = data.draw(st.sampled_from(self.units()))
        body = dict(self.org.poll(unit, signers=[self.org.officer(unit)]).doc.body, closes_at=self.at + 20_000,
                    eligible="full" if full else "active")
        who, seed = self.signer(data, self.org.officer(unit))
        env = self.build("poll", unit, body, who, seed)
        statuses = ("full",) if full else tuple(ACTIVE)
        roll = sorted(m for m in self.reg.members_of(unit) if self.reg.member(m)["status"] in statuses)
        if self.submit(env, ("poll", unit, body["poll_id"])):
            assert roll, "a poll opened with nobody to vote"
            self.polls[env.doc_id] = {"env": env, "roll": roll, "ballots": {}, "closed": False}

    @precondition(lambda self: self.polls)
    @rule(data=st.data())
    def ballot(self, data):
        poll_id = data.draw(st.sampled_from(sorted(self.polls)))
        poll = self.polls[poll_id]
        for _ in range(data.draw(st.integers(1, 4))):  # a few voters per step
            voter = data.draw(st.sampled_from(poll["roll"] if data.draw(st.integers(0, 4)) else self.members()))
            choice = data.draw(st.sampled_from(["for", "against", "abstain"]))
            seed = (self.keys.get(voter) or [bytes(32)])[-1]
            env = self.org.envelope("ballot", poll["env"].doc.org, {"poll": poll_id, "choice": choice}, [voter],
                                    refs=[poll_id], seeds={voter: seed})
            open_until = poll["env"].doc.body["closes_at"]
            if self.submit(env):
                assert voter in poll["roll"], f"{voter} voted without being on the roll"
                assert not poll["closed"] and self.at < open_until, "a ballot was taken after closing"
                poll["ballots"][voter] = choice

    @precondition(lambda self: self.polls)
    @rule(data=st.data())
    def poll_close(self, data):
        poll_id = data.draw(st.sampled_from(sorted(self.polls)))
        poll = self.polls[poll_id]
        who = sorted(poll["env"].signers)[0] if data.draw(st.integers(0, 3)) else \
            data.draw(st.sampled_from(self.members()))
        seed = (self.keys.get(who) or [bytes(32)])[-1]
        env = self.org.envelope("poll_close", poll["env"].doc.org, {"poll": poll_id}, [who], refs=[poll_id],
                                seeds={who: seed})
        if self.submit(env):
            assert not poll["closed"], "a poll was closed twice"
            poll["closed"] = True
            tally = self.reg.poll(poll_id)["tally"]
            recount = {o: list(poll["ballots"].values()).count(o) for o in ("for", "against", "abstain")}
            assert tally["counts"] == recount and tally["eligible"] == len(poll["roll"])
            assert tally["cast"] == len(poll["ballots"])

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

    @invariant()
    @precondition(lambda self: hasattr(self, "reg"))
    def records_match_the_model(self):
        for doc_id, rec in self.records.items():
            assert self.reg.record(doc_id)["current"] == rec["current"]
        for poll_id, poll in self.polls.items():
            assert self.reg.poll_roll(poll_id) == poll["roll"]
            assert {v: b["choice"] for v, b in self.reg.ballots(poll_id).items()} == poll["ballots"]

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
