"""Which documents must wait for others to be committed before they are sent.

The leader checks a submission against the *committed* registry (node/admission.py),
so a document that depends on another one not committed yet is refused: a member
made full before their admission is in the ledger, a role granted in a unit
created in the same batch. A client sending many documents (``import``, ``outbox
push``) therefore sends them in **waves**: each committed before the next.

Dependencies are found through keys a document reads and writes
(:func:`touched_keys`): ``unit:<path>``, ``member:<id>``, ``doc:<id>``. A document
reads its unit, its refs, its signers and the members and documents its body
names; it writes its own id, the unit an ``org_unit`` creates and the member a
``member_status``, ``role`` or ``member_key`` changes. :class:`Waves` gives each
document, in order, one more than the last wave that wrote a key it reads, or
touched a key it writes (so a change to a member goes after every document that
read that member). Within one wave nothing depends on anything else, so its
documents may go in any order, in parallel batches.

:func:`independent_runs` cuts a sequence into consecutive runs whose documents
are all of wave 0 among themselves: batches that keep the sequence's order and
need nothing of each other (``outbox push`` sends an outbox in signing order).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

__all__ = ["touched_keys", "Waves", "independent_runs"]

_WRITES_MEMBER = frozenset({"member_status", "role", "member_key"})
_READ_UNITS = ("to_org", "unit")
_READ_MEMBERS = ("chair", "secretary")
_READ_DOCS = ("minutes", "target", "directive", "resolution", "poll")


def touched_keys(doc: Any, signers: Iterable[str] = (), doc_id: str | None = None) -> tuple[set[str], set[str]]:
    """(reads, writes) of a ledger.documents.Document signed by `signers` (module doc);
    `doc_id` if the caller has it already."""
    body = doc.body if isinstance(doc.body, dict) else {}
    reads = {f"unit:{doc.org}"} | {f"doc:{r}" for r in doc.refs} | {f"member:{s}" for s in signers}
    writes = {f"doc:{doc_id or doc.doc_id}"}
    member = body.get("member")
    if doc.type == "org_unit" and isinstance(body.get("path"), str):
        writes.add(f"unit:{body['path']}")
    if isinstance(member, str):
        (writes if doc.type in _WRITES_MEMBER else reads).add(f"member:{member}")
    for name in _READ_UNITS:
        if isinstance(body.get(name), str):
            reads.add(f"unit:{body[name]}")
    for name in _READ_MEMBERS:
        if isinstance(body.get(name), str):
            reads.add(f"member:{body[name]}")
    for name in _READ_DOCS:
        if isinstance(body.get(name), str):
            reads.add(f"doc:{body[name]}")
    return reads - writes, writes


class Waves:
    """Assigns waves to documents given in order (module doc)."""

    def __init__(self) -> None:
        self._last_write: dict[str, int] = {}
        self._last_touch: dict[str, int] = {}

    def add(self, doc: Any, signers: Iterable[str] = ()) -> int:
        """The wave of `doc`, after every document added before it."""
        return self.add_keys(*touched_keys(doc, signers))

    def add_keys(self, reads: Iterable[str], writes: Iterable[str]) -> int:
        """The wave of a document that reads and writes these keys (:func:`touched_keys`)."""
        wave = 0
        for k in reads:
            if k in self._last_write:
                wave = max(wave, self._last_write[k] + 1)
        for k in writes:
            if k in self._last_touch:
                wave = max(wave, self._last_touch[k] + 1)
        for k in writes:
            self._last_write[k] = wave
        for keys in (reads, writes):
            for k in keys:
                self._last_touch[k] = max(self._last_touch.get(k, 0), wave)
        return wave


def independent_runs(docs: Sequence[tuple[Any, Sequence[str]]], max_size: int) -> list[range]:
    """`docs` ((document, signers), in order) cut into consecutive runs of at most `max_size`
    whose documents need nothing of each other (module doc); the runs as index ranges."""
    runs: list[range] = []
    start, waves = 0, Waves()
    for i, (doc, signers) in enumerate(docs):
        if i - start >= max_size or waves.add(doc, signers) > 0:
            runs.append(range(start, i))
            start, waves = i, Waves()
            waves.add(doc, signers)
    if start < len(docs):
        runs.append(range(start, len(docs)))
    return runs
