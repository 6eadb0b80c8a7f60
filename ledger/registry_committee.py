"""Committee work as signed events: directives and their answers, the
follow-up of resolution tasks, and open-ballot polls whose tally the
registry computes (never a typed total).

Theory of operation
-------------------
**Directives.** A ``directive`` is a record (ledger/registry_records.py:
one per (org, number), amendable, its ``addressed`` fixed). It is issued by
``doc.org`` and signed by a secretary or deputy of ``org+``; it addresses
units *strictly below* the issuer: the whole subtree, one level (a unit
kind) or listed units (which must exist and be open). Whether a unit is
addressed is :func:`is_addressed`: below the issuer, created at or before
the directive's block time (a unit created later is not addressed), not
closed by then, and in scope. Each addressed unit answers for itself: its
own secretary or deputy (exactly that unit, ``doc.org``; a higher officer
cannot answer for it) files one ``directive_ack`` (a second is
``duplicate_record``), then any number of progress ``directive_report``\\ s
(``final: false``) and one final report (``final: true``), after which the
unit files nothing more on that directive. A report before the
acknowledgement is refused, and so is anything on a withdrawn directive.
Block times of the acknowledgement and the final report are kept, for
views that judge lateness against ``ack_due`` / ``report_due``.

**Tasks.** Each version of a resolution in force writes its tasks' state
(owner, status, last report). A ``task_report`` on (resolution, task index)
is signed by the task's owner or by a secretary or deputy of the
resolution's ``org+``; it is refused for an unknown task, a withdrawn or
confidential resolution, and once the task is ``done`` (done is final: a
mistaken "done" is corrected by amending the resolution with a new task).
An amendment of a resolution keeps every task that has a report (the first
N tasks, by index) and may change their text, due date or owner, or add
tasks.

**Polls** (open ballot). A chair or secretary of ``org+`` opens a ``poll``
of ``doc.org`` (one per (org, poll_id)); ``closes_at`` must lie after the
opening block. The registry fixes the *roll* at opening: the members of
``doc.org`` itself whose status is active (probationary or full) or, with
``eligible: full``, full; its *fingerprint* is ``sha256`` of the sorted
member ids joined by ``\\n`` (UTF-8, no trailing newline), lowercase hex.
A ``ballot`` has exactly one signer, the voter, who must be on the roll;
it is refused once the block time reaches ``closes_at`` or the poll is
closed; a later ballot of the same voter replaces the earlier. A
``poll_close`` is signed, before ``closes_at``, by whoever opened the poll
or a chair of ``org+`` (closing early); from ``closes_at`` on, also by a
secretary of ``org+``. Applying it computes the tally from the ballots in
force: votes per option, ``cast``, ``eligible`` (the roll's size) and
``quorum_met`` (``cast * den > num * eligible`` when ``strict``, else
``>=``). Minutes whose ``votes`` item names a ``poll`` must match that
closed poll of the same unit: its motion, and for / against / abstain equal
to its tally (a poll whose options are not among those three cannot be
carried in such a vote item).

Keys (``<id>`` is a doc id as 32 raw bytes)::

    r/dk/<directive id><unit>   one addressed unit's answers {ack, ack_at,
                                reports, final, final_at}
    r/tk/<resolution id>        its tasks [{owner, status, last, reports, at}]
    r/po/<poll id>              the poll and, once closed, its tally
    r/pe/<poll id><member>      the roll (empty values)
    r/pb/<poll id><member>      the ballot in force {ballot, choice, at}
"""

from __future__ import annotations

import hashlib

import msgpack

from .errors import DuplicateRecord, NotPermitted, Rejected
from .orgpaths import is_strictly_under
from .schemas import ACTIVE_STATUSES

__all__ = ["CommitteeRules", "is_addressed", "roll_fingerprint", "TALLY_VOTE_OPTIONS"]

TALLY_VOTE_OPTIONS = ("for", "against", "abstain")  # what a minutes vote item carries


def _raw(doc_id: str) -> bytes:
    return bytes.fromhex(doc_id)


def _dec(v: bytes):
    return msgpack.unpackb(v, raw=False)


def is_addressed(issuer: str, addressed: dict, issued_at: int, unit: dict) -> bool:
    """Whether a directive of `issuer` (its body's ``addressed``, issued at
    block time `issued_at`) addresses `unit` (a registry unit record)."""
    path = unit["path"]
    if not is_strictly_under(path, issuer) or unit["created_at"] > issued_at:
        return False
    if unit["status"] == "closed" and unit["closed_at"] <= issued_at:
        return False
    scope = addressed["scope"]
    if scope == "subtree":
        return True
    if scope == "level":
        return unit["kind"] == addressed["kind"]
    return path in addressed["units"]


def roll_fingerprint(member_ids) -> str:
    """sha256 of the sorted member ids joined by newlines, lowercase hex."""
    return hashlib.sha256("\n".join(sorted(member_ids)).encode()).hexdigest()


class CommitteeRules:
    """The committee mixin of :class:`~ledger.registry.Registry` (module doc)."""

    # -- queries -----------------------------------------------------------------

    def directive_answers(self, directive_id: str) -> dict[str, dict]:
        """unit -> {ack, ack_at, reports, final, final_at} for every unit that answered."""
        prefix = b"r/dk/" + _raw(directive_id)
        return {k[len(prefix):].decode(): _dec(v) for k, v in self.view.scan(prefix)}

    def addresses(self, directive_id: str, unit: str) -> bool:
        """Whether the directive (a record) addresses `unit`."""
        rec = self._record(self.view, directive_id)
        u = self._get(self.view, b"r/u/" + unit.encode())
        if rec is None or rec["type"] != "directive" or u is None:
            return False
        return is_addressed(rec["org"], rec["kept"]["addressed"], rec["at"], u)

    def tasks(self, resolution_id: str) -> list[dict]:
        """The tasks of a resolution in force: [{owner, status, last, reports, at}]
        (status and last null until the first report)."""
        v = self.view.get(b"r/tk/" + _raw(resolution_id))
        return [] if v is None else _dec(v)

    def poll(self, poll_id: str) -> dict | None:
        """``{doc_id, org, poll_id, motion, options, closes_at, quorum, eligible,
        opened_at, opened_by, roll_size, roll_fingerprint, status, tally}``;
        ``tally`` (null while open) is ``{counts: {option: n}, cast, eligible,
        quorum_met, closed_at, close, early}``."""
        poll = self._get(self.view, b"r/po/" + _raw(poll_id))
        return None if poll is None else dict(poll, doc_id=poll_id)

    def poll_roll(self, poll_id: str) -> list[str]:
        """The member ids on the poll's roll, sorted."""
        prefix = b"r/pe/" + _raw(poll_id)
        return [k[len(prefix):].decode() for k, _ in self.view.scan(prefix)]

    def ballots(self, poll_id: str) -> dict[str, dict]:
        """voter -> {ballot, choice, at}: the ballot in force of each voter."""
        prefix = b"r/pb/" + _raw(poll_id)
        return {k[len(prefix):].decode(): _dec(v) for k, v in self.view.scan(prefix)}

    # -- directives ------------------------------------------------------------------

    def _check_directive(self, p, org, body, signers, at_ms, rec) -> dict:
        self._authorise_directive(p, org, {}, signers)
        addressed = body["addressed"]
        if addressed["scope"] == "units" and rec is None:  # an amendment keeps `addressed`
            for i, unit in enumerate(addressed["units"]):
                field = f"body.addressed.units[{i}]"
                if not is_strictly_under(unit, org):
                    raise Rejected(f"{field}: {unit!r} is not below the issuing unit {org!r}")
                self._open_unit(p, unit, field)
        return {}

    def _authorise_directive(self, p, org, auth, signers) -> None:
        """A signer is secretary or deputy_secretary in ``org+``."""
        self._officer(p, signers, org, org)

    def _answering(self, p, doc, directive_id: str, signers) -> tuple[bytes, dict | None]:
        """Checks common to a unit's answers; the answers key and state."""
        rec = self._record(p, directive_id)
        if rec is None or rec["type"] != "directive":
            raise Rejected(f"body.directive: no directive {directive_id}")
        if rec["current"] is None:
            raise Rejected(f"body.directive: directive {directive_id} was withdrawn")
        self._officer(p, signers, doc.org, doc.org, exact=True)
        unit = self._get(p, b"r/u/" + doc.org.encode())
        if not is_addressed(rec["org"], rec["kept"]["addressed"], rec["at"], unit):
            raise Rejected(f"doc.org: directive {directive_id} of {rec['org']!r} does not address {doc.org!r}")
        key = b"r/dk/" + _raw(directive_id) + doc.org.encode()
        return key, self._get(p, key)

    def _do_directive_ack(self, p, doc, body, signers, at_ms) -> None:
        key, state = self._answering(p, doc, body["directive"], signers)
        if state is not None:
            raise DuplicateRecord("body.directive", state["ack"],
                                  f"{doc.org} has already acknowledged directive {body['directive']}: document "
                                  f"{state['ack']}")
        p.put(key, {"ack": doc.doc_id, "ack_at": at_ms, "reports": 0, "final": None, "final_at": None})

    def _do_directive_report(self, p, doc, body, signers, at_ms) -> None:
        directive = body["directive"]
        key, state = self._answering(p, doc, directive, signers)
        if state is None:
            raise Rejected(f"body.directive: {doc.org} has not acknowledged directive {directive}; acknowledge "
                           f"it first")
        if state["final"] is not None:
            if body["final"]:
                raise DuplicateRecord("body.final", state["final"],
                                      f"{doc.org} has already filed its final report on directive {directive}: "
                                      f"document {state['final']}")
            raise Rejected(f"body.directive: {doc.org} has filed its final report on directive {directive} "
                           f"(document {state['final']}); nothing more is filed on it")
        state["reports"] += 1
        if body["final"]:
            state["final"], state["final_at"] = doc.doc_id, at_ms
        p.put(key, state)

    # -- resolution tasks ------------------------------------------------------------

    def _version_resolution(self, p, org, resolution_id, body, at_ms, rec) -> None:
        if "confidential" in body:
            return
        key = b"r/tk/" + _raw(resolution_id)
        old = self._get(p, key) or []
        reported = max((i + 1 for i, t in enumerate(old) if t["reports"]), default=0)
        tasks = body["tasks"]
        if len(tasks) < reported:
            raise Rejected(f"body.body.tasks: the first {reported} task(s) have progress reports and must stay "
                           f"(got {len(tasks)} tasks)")
        fresh = {"status": None, "last": None, "reports": 0, "at": None}
        new = [dict(old[i] if i < len(old) else fresh, owner=t["owner"]) for i, t in enumerate(tasks)]
        if new:
            p.put(key, new)
        elif old:
            p.delete(key)

    def _do_task_report(self, p, doc, body, signers, at_ms) -> None:
        rid = body["resolution"]
        rec = self._record(p, rid)
        if rec is None or rec["type"] != "resolution":
            raise Rejected(f"body.resolution: no resolution {rid}")
        if rec["current"] is None:
            raise Rejected(f"body.resolution: resolution {rid} was withdrawn")
        if rec["confidential"]:
            raise Rejected(f"body.resolution: resolution {rid} is confidential; its tasks are not on the ledger")
        if doc.org != rec["org"]:
            raise Rejected(f"doc.org: a task report belongs to its resolution's unit {rec['org']!r}")
        key = b"r/tk/" + _raw(rid)
        tasks = self._get(p, key) or []
        i = body["task"]
        if i >= len(tasks):
            raise Rejected(f"body.task: resolution {rid} has {len(tasks)} task(s), numbered from 0")
        task = tasks[i]
        if task["owner"] not in signers:
            try:
                self._officer(p, signers, doc.org, doc.org)
            except NotPermitted:
                raise NotPermitted(signers[0], "task owner", doc.org,
                                   f"a report on task {i} is signed by its owner ({task['owner']}) or a secretary "
                                   f"or deputy of {doc.org} or above") from None
        if task["status"] == "done":
            raise Rejected(f"body.task: task {i} of resolution {rid} is done (document {task['last']}); a done "
                           f"task takes no more reports")
        task.update(status=body["status"], last=doc.doc_id, reports=task["reports"] + 1, at=at_ms)
        p.put(key, tasks)

    # -- polls -------------------------------------------------------------------------

    def _poll(self, p, doc, poll_id: str) -> dict:
        poll = self._get(p, b"r/po/" + _raw(poll_id))
        if poll is None:
            raise Rejected(f"body.poll: no poll {poll_id}")
        if doc.org != poll["org"]:
            raise Rejected(f"doc.org: poll {poll_id} belongs to {poll['org']!r}, not {doc.org!r}")
        return poll

    def _do_poll(self, p, doc, body, signers, at_ms) -> None:
        self._need_role(p, signers, ("chair", "secretary"), doc.org, doc.org)
        if body["closes_at"] <= at_ms:
            raise Rejected(f"body.closes_at: {body['closes_at']} is not after the block that opens the poll "
                           f"({at_ms})")
        self._claim(p, "poll", doc.org, body, doc.doc_id)
        statuses = ("full",) if body["eligible"] == "full" else ACTIVE_STATUSES
        prefix = b"r/um/" + doc.org.encode() + b"\0"
        roll = [k[len(prefix):].decode() for k, _ in self.view.scan(prefix)
                if self._get(p, b"r/m/" + k[len(prefix):])["status"] in statuses]
        if not roll:
            raise Rejected(f"body.eligible: {doc.org} has no {body['eligible']} members to vote")
        raw = _raw(doc.doc_id)
        for member in roll:
            p.put(b"r/pe/" + raw + member.encode(), b"")
        p.put(b"r/po/" + raw, {
            "org": doc.org, "poll_id": body["poll_id"], "motion": body["motion"], "options": body["options"],
            "closes_at": body["closes_at"], "quorum": body["quorum"], "eligible": body["eligible"],
            "opened_at": at_ms, "opened_by": sorted(signers), "roll_size": len(roll),
            "roll_fingerprint": roll_fingerprint(roll), "status": "open", "tally": None})

    def _do_ballot(self, p, doc, body, signers, at_ms) -> None:
        poll_id = body["poll"]
        poll = self._poll(p, doc, poll_id)
        if len(signers) != 1:
            raise NotPermitted(signers[0], "voter", doc.org,
                               f"a ballot is signed by the voter alone, got {len(signers)} signatures")
        voter = signers[0]
        if poll["status"] == "closed":
            raise Rejected(f"body.poll: poll {poll_id} is closed (document {poll['tally']['close']})")
        if at_ms >= poll["closes_at"]:
            raise Rejected(f"body.poll: poll {poll_id} took ballots until {poll['closes_at']}")
        raw = _raw(poll_id)
        if p.get(b"r/pe/" + raw + voter.encode()) is None:
            raise NotPermitted(voter, "voter", doc.org,
                               f"{voter} is not on the roll of poll {poll_id} (fixed when it opened)")
        if body["choice"] not in poll["options"]:
            raise Rejected(f"body.choice: expected one of {', '.join(poll['options'])}, got {body['choice']!r}")
        p.put(b"r/pb/" + raw + voter.encode(), {"ballot": doc.doc_id, "choice": body["choice"], "at": at_ms})

    def _do_poll_close(self, p, doc, body, signers, at_ms) -> None:
        poll_id = body["poll"]
        poll = self._poll(p, doc, poll_id)
        if poll["status"] == "closed":
            close = poll["tally"]["close"]
            raise DuplicateRecord("body.poll", close, f"poll {poll_id} is already closed: document {close}")
        early = at_ms < poll["closes_at"]
        if not set(signers) & set(poll["opened_by"]):
            roles = ("chair",) if early else ("chair", "secretary")
            try:
                self._need_role(p, signers, roles, doc.org, doc.org)
            except NotPermitted:
                who = "whoever opened it or a chair" if early else "whoever opened it, a chair or a secretary"
                when = "before closes_at " if early else ""
                raise NotPermitted(signers[0], "|".join(roles), doc.org,
                                   f"poll {poll_id} is closed {when}by {who} of {doc.org} or above") from None
        counts = dict.fromkeys(poll["options"], 0)
        for _, v in self.view.scan(b"r/pb/" + _raw(poll_id)):
            counts[_dec(v)["choice"]] += 1
        cast, eligible, q = sum(counts.values()), poll["roll_size"], poll["quorum"]
        met = cast * q["den"] > q["num"] * eligible if q["strict"] else cast * q["den"] >= q["num"] * eligible
        poll["status"] = "closed"
        poll["tally"] = {"counts": counts, "cast": cast, "eligible": eligible, "quorum_met": met, "closed_at": at_ms,
                         "close": doc.doc_id, "early": early}
        p.put(b"r/po/" + _raw(poll_id), poll)

    def _check_poll_tally(self, p, org, vote: dict, path: str) -> None:
        """A minutes vote item naming a poll carries that closed poll's tally."""
        poll_id = vote["poll"]
        poll = self._get(p, b"r/po/" + _raw(poll_id))
        if poll is None:
            raise Rejected(f"{path}.poll: no poll {poll_id}")
        if poll["org"] != org:
            raise Rejected(f"{path}.poll: poll {poll_id} belongs to {poll['org']!r}, not {org!r}")
        if poll["status"] != "closed":
            raise Rejected(f"{path}.poll: poll {poll_id} is still open; its tally is made when it closes")
        if vote["motion"] != poll["motion"]:
            raise Rejected(f"{path}.motion: expected the poll's motion {poll['motion']!r}, got {vote['motion']!r}")
        others = [o for o in poll["options"] if o not in TALLY_VOTE_OPTIONS]
        if others:
            raise Rejected(f"{path}.poll: poll {poll_id} has options ({', '.join(others)}) that a for / against / "
                           f"abstain vote cannot carry")
        counts = poll["tally"]["counts"]
        for option in TALLY_VOTE_OPTIONS:
            if vote[option] != counts.get(option, 0):
                raise Rejected(f"{path}.{option}: the poll's tally has {counts.get(option, 0)}, the minutes say "
                               f"{vote[option]}")
