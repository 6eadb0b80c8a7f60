"""node/intake.py: the journal behind a durable 202."""

from __future__ import annotations

import asyncio
import hashlib

from node.intake import IntakeJournal


def _doc(i: int) -> tuple[str, bytes]:
    envelope = b"envelope %d" % i
    return hashlib.sha256(envelope).hexdigest(), envelope


def test_concurrent_adds_share_fsynced_batches_and_survive_reopen(tmp_path):
    path = str(tmp_path / "intake")
    docs = [_doc(i) for i in range(200)]

    async def add_all(journal: IntakeJournal) -> None:
        await asyncio.gather(*(journal.add(d, e) for d, e in docs))

    journal = IntakeJournal(path)
    writes = []
    write = journal.store.write
    journal.store.write = lambda changes: (writes.append(len(changes)), write(changes))[1]
    asyncio.run(add_all(journal))
    assert sum(writes) == 200 and len(writes) < 200  # group commit: fewer fsyncs than documents
    assert len(journal) == 200 and docs[5][0] in journal
    journal.close()

    reopened = IntakeJournal(path)  # what a restarted node finds
    assert reopened.items() == sorted(docs)
    reopened.remove([docs[0][0], docs[1][0], None, "00" * 32])
    reopened.close()
    again = IntakeJournal(path)
    assert len(again) == 198 and docs[0][0] not in again and docs[2][0] in again
    again.close()


def test_adding_a_journaled_document_again_writes_nothing(tmp_path):
    journal = IntakeJournal(str(tmp_path / "intake"))
    doc_id, envelope = _doc(1)
    writes = []
    write = journal.store.write
    journal.store.write = lambda changes: (writes.append(changes), write(changes))[1]

    async def twice() -> None:
        await journal.add(doc_id, envelope)
        await journal.add(doc_id, envelope)

    asyncio.run(twice())
    assert len(writes) == 1
    journal.close()
