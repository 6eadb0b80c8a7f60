"""Import: records from CSV, XLSX or JSONL, checked first, then signed and sent in batches.

Theory of operation.

1. **Plan, checking everything first.** Every row becomes its documents (a
   template's for a table, client/import_templates.py; one document or one
   already signed envelope per JSONL line), each completed deterministically
   and checked as the ledger checks it (schemas and the rules that tie fields
   together). A row that repeats an earlier row's document, or records the
   same act (ledger/schemas.py ``RECORD_KEYS``: the same meeting, the same
   resolution number...), is a problem too.
   Nothing is signed or sent while planning. Then every unit the rows name is
   looked up on the node (one request per distinct unit). Each problem is a
   :class:`Problem` (row, column, reason) in the report; if there is any,
   nothing is sent unless the caller skips the bad rows.
2. **Deterministic documents.** A document's id is the hash of its bytes, so an
   import run again must build the very same documents: a table row's nonce is
   derived from the document itself (``SHA-256("minutebook/import-nonce\\0" ‖
   JSON(doc without nonce))[:16]``, the JSON with keys sorted, no spaces, UTF-8,
   bytes as base64url); a JSONL line's, when it has none, from the line's text.
   ``created_at`` is the import's own (written to
   the resume file on the first run and read back on every later one; a JSONL
   record carries its own). Ed25519 signatures are deterministic too, so the
   envelope bytes are the same on every run.
3. **Waves** (client/waves.py). The leader checks a submission against the
   *committed* registry, so a document that depends on another of the same
   import (a member made full after being admitted, a role granted in a unit
   created earlier in the file) must be sent after that one is committed.
   Waves go one after another, each committed before the next; within a
   wave nothing depends on anything else, so its batches go in parallel.
4. **Send.** Documents are signed as they are planned (in the pool that
   reads the rows, for a long table). Each wave goes in batches (``POST
   /v1/documents:batch``) of ``batch_size`` documents, ``concurrency`` in
   flight, *without* ``?wait=committed``: a batch is answered once its
   documents are admitted and journaled, and this thread follows the node's
   blocks (``GET /v1/blocks``, public: ids and statuses) from the height the
   wave started at, settling each document as its block shows it accepted
   (or rejected: the reason is read from the document). A receipt per
   document, which ``?wait=committed`` answers with, costs the leader about
   as much as admitting it, and an import needs none (``minutebook receipt``
   gives one later). A document already committed or refused is settled by
   its batch's answer. A 409 ``duplicate_record`` (another document holds
   this act: the same meeting, resolution number...) is read back: when the
   record held says what the row says (type, unit, body, refs), an earlier
   run made it under another ``created_at`` (its resume file lost) and the
   row is already committed; otherwise it is a conflict, reported at the row
   and the column of the act's identity with the doc id to amend. What no
   block shows within ``timeout`` seconds after the wave's last batch was
   answered (a leader change dropped it, or it was not admitted) is sent
   again, the same bytes, a few rounds, as is a batch answered 502 or 504
   (the node that took it could not reach the leader in time). 503 is waited
   out (Retry-After) by the SDK; a node that cannot be reached stops the
   import, which resumes where it stopped.
5. **Resume file** (``<FILE>.resume`` unless given): JSON lines, a header
   ``{"minutebook_import": 1, "source", "template", "created_at", "tz"}`` then
   one ``{"row", "doc_id", "status", "key"}`` per settled document (``key``:
   :func:`row_key`, a hash of what the row says), appended and fsynced as
   they settle, before they are counted. A resumed import does not read
   again a row whose documents are all committed (its check was passed, the
   ledger took them) and skips every document listed as committed; a torn
   last line (a crash while writing) is ignored.

The report (:func:`write_report`) is CSV ``row,column,stage,reason``: ``stage``
is ``check`` (found before sending) or ``node`` (refused when sent). It never
holds personal data: no cell's value is ever repeated (a ledger rule's ``got
<value>`` is cut; a name typed into a date column must not reach the report
either), only where the problem is and the rule broken.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ledger.encoding import canonical, normalize
from ledger.errors import InvalidInput, MinutebookError
from ledger.files import write_atomically
from ledger.registry_records import record_key
from ledger.schemas import RECORD_KEYS

from . import errors as api_errors
from .import_templates import Template, documents_in, row_documents
from .outbox import refuses
from .tabular import Table, column_letter
from .waves import Waves, touched_keys

__all__ = ["Problem", "Facts", "facts_of", "Item", "Plan", "EnvelopeSigner", "plan_table", "row_key", "assign_waves",
           "check_units", "ResumeFile", "send_plan", "SendResult", "write_report", "import_nonce", "REPORT_COLUMNS"]

NONCE_DOMAIN = b"minutebook/import-nonce\0"
REPORT_COLUMNS = ("row", "column", "stage", "reason")
_GOT = re.compile(r",? got .*$", re.DOTALL)
_INDEX = re.compile(r"\[[0-9]+\]")


def import_nonce(material: bytes) -> bytes:
    return hashlib.sha256(NONCE_DOMAIN + material).digest()[:16]


def _nonce_material(doc: dict) -> bytes:
    """A document without its nonce as JSON: keys sorted, no spaces, UTF-8, bytes as base64url
    (module doc, step 2). Cheaper than the canonical bytes, and as stable."""
    from ledger.jsonfmt import b64e

    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=b64e).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    column: str   # a column name (with its letter in a table), or "" for the row as a whole
    reason: str
    stage: str = "check"

    def line(self, where: str = "row") -> str:
        column = f", column {self.column}" if self.column else ""
        return f"{where} {self.row}{column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the checks across rows and the waves need of a document, found once where the row
    is read: the plan keeps no Document once its envelope is signed."""

    units: tuple[str, ...]          # doc.org, then a unit the body moves a member to (to_org)
    reads: frozenset[str]           # client/waves.py
    writes: frozenset[str]
    act: tuple[bytes, str] | None   # the act it records and the field naming it (ledger RECORD_KEYS)


def facts_of(doc: Any, signers: Iterable[str] = (), doc_id: str | None = None) -> Facts:
    body = doc.body if isinstance(doc.body, dict) else {}
    reads, writes = touched_keys(doc, signers, doc_id)
    units = (doc.org, body["to_org"]) if isinstance(body.get("to_org"), str) else (doc.org,)
    return Facts(units=units, reads=frozenset(reads), writes=frozenset(writes), act=_act_of(doc))


@dataclass(slots=True)
class Item:
    """One document to send: `document` (a ledger.documents.Document, with `doc_bytes` its
    canonical bytes) to sign, or `envelope` bytes signed (by the plan, or already in the
    file); `keys` overrides the import's keys."""

    row: int
    doc_id: str
    facts: Facts
    document: Any = None
    doc_bytes: bytes | None = None
    envelope: bytes | None = None
    keys: tuple | None = None
    where: dict = field(default_factory=dict)  # field path -> column, to report the node's answer
    wave: int = 0
    row_key: str = ""

    @property
    def doc(self) -> Any:
        if self.document is not None:
            return self.document
        from ledger.documents import Envelope
        from ledger.sealing import envelope_of

        return Envelope.from_bytes(envelope_of(self.envelope)).doc


@dataclass(slots=True)
class Plan:
    items: list[Item]
    problems: list[Problem]
    rows: int
    where: str = "row"   # "row" (tables) or "line" (JSONL)
    letters: dict = field(default_factory=dict)  # column name -> spreadsheet letter
    done: int = 0  # documents of rows an earlier run settled (not read again)

    @property
    def bad_rows(self) -> set[int]:
        return {p.row for p in self.problems}

    def without_bad_rows(self) -> list[Item]:
        bad = self.bad_rows
        return [i for i in self.items if i.row not in bad]


# -- planning -------------------------------------------------------------------------


def _column_for(field_path: str, where: dict, letters: dict) -> str:
    """The column(s) behind a ledger field path (``body.attendees[3].member`` -> present+absent)."""
    bare = _INDEX.sub("", field_path).removeprefix("doc.")
    best = ""
    for path, column in where.items():
        if bare == path or bare.startswith(path + "."):
            if len(path) > len(best):
                best = path
    if best:
        return _with_letter(where[best], letters)
    under = [c for p, c in where.items() if p.startswith(bare + ".")]
    return _with_letter("+".join(dict.fromkeys(under)), letters) if under else ""


def _with_letter(column: str, letters: dict) -> str:
    if not column or "+" in column or column not in letters:
        return column
    return f"{column} ({letters[column]})"


def _without_value(rule: str) -> str:
    """A ledger rule without the value that broke it (``expected X, got 'Nguyễn…'`` -> ``expected X``)."""
    return _GOT.sub("", rule)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A document (or envelope) read from a row, not yet checked."""

    doc: dict | None
    envelope: bytes | None = None
    where: dict = field(default_factory=dict)  # field path -> column (empty for JSONL: the path is the place)
    keys: tuple | None = None


def row_key(row: Any, template: Template | None) -> str:
    """What a row says, hashed: a resumed import recognises the rows it has done by it."""
    if template is None:
        material = row.text.strip()
    else:
        material = json.dumps([_cell_text(row.cells.get(n)) for n in template.names], ensure_ascii=False)
    return hashlib.sha256(b"minutebook/import-row\0" + material.encode("utf-8")).hexdigest()[:32]


def _cell_text(value: Any) -> str | None:
    return None if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)


PARALLEL_FROM_ROWS = 4000  # a table this long is read by a pool of processes (below, starting one costs more)
CHUNK_ROWS = 1000          # rows per task of the pool


def plan_table(table: Table, template: Template | None, *, created_at: int, tz: Any = None,
               key_loader: Callable[[str], Any] | None = None, base: Path | None = None,
               done_rows: dict[str, int] | None = None, sign_with: Sequence[Any] = (), jobs: int = 1) -> Plan:
    """Read every row of `table` into documents and check them (module doc, step 1). A row
    whose documents an earlier run of the same import settled (`done_rows`: row key -> count,
    from the resume file) is counted in ``Plan.done`` and not read again. With `sign_with`
    (keys), a table's documents are signed as they are read (``Item.envelope``). With `jobs`
    > 1, a table of :data:`PARALLEL_FROM_ROWS` rows or more is read by that many processes;
    the plan is the same."""
    items: list[Item] = []
    problems: list[Problem] = []
    first_row_of: dict[str, int] = {}
    first_row_of_act: dict[bytes, int] = {}
    letters = {name: column_letter(i) for i, name in enumerate(table.header)}
    if template is not None:
        _check_header(table, template, letters)
    reader = _RowReader(template, created_at, tz, letters, done_rows or {}, key_loader if template is None else None, base)
    signer = EnvelopeSigner(sign_with) if sign_with and template is not None else None
    rows = done = 0
    for number, count_done, row_items, row_problems in _read_rows(table.rows, reader, signer, sign_with, jobs):
        rows += 1
        if count_done:
            done += count_done
            continue
        problems.extend(row_problems)
        for checked in row_items:
            if checked.doc_id in first_row_of:
                problems.append(Problem(number, "", f"the same record as {table.where} {first_row_of[checked.doc_id]}"))
            elif (act := checked.facts.act) is not None and act[0] in first_row_of_act:
                column, _ = _located(act[1], "", checked.where, letters)
                problems.append(Problem(number, column, f"the same act as {table.where} "
                                                        f"{first_row_of_act[act[0]]} (one record per act: "
                                                        "give this one its own identity, or amend that one)"))
            else:
                first_row_of[checked.doc_id] = number
                if act is not None:
                    first_row_of_act[act[0]] = number
                items.append(checked)
    assign_waves(items)
    return Plan(items=items, problems=problems, rows=rows, where=table.where, letters=letters, done=done)


_RowPlan = tuple  # (row number, documents an earlier run settled (0: read it), [Item], [Problem])


@dataclass(frozen=True, slots=True)
class _RowReader:
    """What reading one row needs; a row is read without looking at any other (the checks
    across rows are plan_table's), so rows can be read in any process."""

    template: Template | None
    created_at: int
    tz: Any
    letters: dict
    done_rows: dict
    key_loader: Callable[[str], Any] | None = None
    base: Path | None = None

    def read(self, row: Any) -> _RowPlan:
        template, done_rows = self.template, self.done_rows
        key = row_key(row, template)
        if key in done_rows and done_rows[key] >= (1 if template is None else documents_in(template, row.cells)):
            return row.number, done_rows[key], [], []
        problems: list[Problem] = []
        if template is None:
            candidates = [_jsonl_candidate(row, self.key_loader, self.base, self.tz)]
        else:
            docs, cell_problems = row_documents(template, row.cells, tz=self.tz)
            problems.extend(Problem(row.number, _with_letter(p.column, self.letters), p.rule) for p in cell_problems)
            candidates = [] if cell_problems else [
                _Candidate({**doc, "v": 1, "refs": doc.get("refs", []), "created_at": self.created_at}, where=where)
                for doc, where in docs]
        items = []
        for candidate in candidates:
            checked = candidate if isinstance(candidate, Problem) else _checked(candidate, row.number, self.letters)
            if isinstance(checked, Problem):
                problems.append(checked)
            else:
                checked.row_key = key
                items.append(checked)
        return row.number, 0, items, problems


def _read_rows(rows: Iterable[Any], reader: _RowReader, signer: "EnvelopeSigner | None", keys: Sequence[Any],
               jobs: int) -> Iterator[_RowPlan]:
    """Every row read by `reader` (and its documents signed by `signer`), in order: here, or
    by `jobs` processes once the table proves long enough to be worth them."""
    rows = iter(rows)
    first = list(itertools.islice(rows, PARALLEL_FROM_ROWS))
    if jobs <= 1 or len(first) < PARALLEL_FROM_ROWS or reader.template is None:
        for row in itertools.chain(first, rows):
            yield _signed(reader.read(row), signer)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = _chunks(itertools.chain(first, rows), CHUNK_ROWS)
    # spawn: a fork of a process with threads (an HTTP client, a test server) may inherit a held lock
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(reader, list(keys) if signer else [])) as pool:
        for planned in pool.map(_read_chunk, chunks):
            yield from planned


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list]:
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


_WORKER: dict = {}


def _start_worker(reader: _RowReader, keys: list) -> None:
    _WORKER["reader"] = reader
    _WORKER["signer"] = EnvelopeSigner(keys) if keys else None


def _read_chunk(rows: list) -> list[_RowPlan]:
    reader, signer = _WORKER["reader"], _WORKER["signer"]
    return [_signed(reader.read(row), signer) for row in rows]


def _signed(planned: _RowPlan, signer: "EnvelopeSigner | None") -> _RowPlan:
    """Each document signed by `signer` (its Document dropped: the envelope holds it)."""
    if signer is not None:
        for item in planned[2]:
            if item.envelope is None and not item.keys:
                item.envelope = signer.envelope(item.doc_bytes)
                item.document = item.doc_bytes = None
    return planned


def _act_of(doc: Any) -> tuple[bytes, str] | None:
    """(the identity of the act `doc` records, the field path that names it) for a type with
    one record per act (ledger/schemas.py ``RECORD_KEYS``), else None."""
    if doc.type not in RECORD_KEYS:
        return None
    key = record_key(doc.type, doc.org, doc.body) if isinstance(doc.body, dict) else None
    if key is None:
        return None
    return canonical(key), "body." + next(f for f in RECORD_KEYS[doc.type] if f != "org")


def _check_header(table: Table, template: Template, letters: dict) -> None:
    unknown = [n for n in table.header if n not in template.names]
    if unknown:
        raise InvalidInput(f"column {unknown[0]} ({letters[unknown[0]]})",
                           f"not a column of the {template.name} template (its columns: {', '.join(template.names)})")
    missing = [c.name for c in template.columns if c.required and c.name not in table.header]
    if missing:
        raise InvalidInput("header", f"the {template.name} template needs the column(s) {', '.join(missing)}")


def _checked(candidate: _Candidate, row: int, letters: dict) -> Item | Problem:
    """The candidate built and checked as the ledger checks it, or the problem, by column."""
    from ledger.documents import Document, Envelope

    try:
        if candidate.envelope is not None:
            doc = Envelope.from_bytes(candidate.envelope).doc
            return Item(row=row, doc_id=doc.doc_id, facts=facts_of(doc), envelope=candidate.envelope)
        if candidate.where:  # a table row
            obj = candidate.doc
            obj["nonce"] = import_nonce(_nonce_material(obj))
            document = Document(**obj)
            data = _table_document_bytes(document)
        else:
            document = Document.from_obj(normalize(candidate.doc))
            data = document.canonical
    except InvalidInput as exc:
        return Problem(row, *_located(exc.field, exc.rule, candidate.where, letters))
    doc_id = hashlib.sha256(data).hexdigest()
    return Item(row=row, doc_id=doc_id, document=document, doc_bytes=data, keys=candidate.keys, where=candidate.where,
                facts=facts_of(document, [k.id for k in candidate.keys] if candidate.keys else (), doc_id))


def _table_document_bytes(document: Any) -> bytes:
    """The canonical bytes of a document a template built from a table's cells: what
    ``document.canonical`` gives, without walking the value again for the encoding's rules,
    which hold by construction (every text cell NFC, client/tabular.py; every other value an
    int, bool, bytes, list or map the template made and the body schema just checked, ints
    within their bounds), save the size, checked here. A quarter of the cost of reading a
    row; tests/client/test_import.py checks the bytes against ``canonical``."""
    from ledger.encoding import MAX_DOCUMENT_BYTES, canonical_of_checked
    from ledger.errors import TooLarge

    data = canonical_of_checked(document.to_obj())
    if len(data) > MAX_DOCUMENT_BYTES:
        raise TooLarge("", f"the document would be {len(data)} bytes, over the limit of {MAX_DOCUMENT_BYTES}")
    return data


def _located(field_path: str, rule: str, where: dict, letters: dict) -> tuple[str, str]:
    """(column, reason) for a ledger rule broken at `field_path`, without the value (module doc)."""
    if not where:  # JSONL: the field path is the place
        return field_path, _without_value(rule)
    column = _column_for(field_path, where, letters)
    reason = rule if column else (f"{field_path}: {rule}" if field_path else rule)
    return column, _without_value(reason)


def _jsonl_candidate(row, key_loader, base: Path | None, tz: Any) -> _Candidate | Problem:
    """One JSONL line (see `import --help`): a document, or {"envelope": ...}; its times read
    as `submit` reads them (client/docinput.py: ISO 8601 or unix ms)."""
    from ledger.jsonfmt import b64d

    from .cli_common import document_values
    from .docinput import normalise_document
    from .tabular import NotJson

    record = row.record
    if isinstance(record, NotJson):
        return Problem(row.number, "", f"not valid JSON: {record.error}")
    if not isinstance(record, dict):
        return Problem(row.number, "", "expected a JSON object")
    try:
        if "envelope" in record:
            return _Candidate(None, envelope=b64d(record["envelope"], "envelope"))
        record = dict(record)
        key_paths = record.pop("keys", None)
        doc = normalise_document(document_values(record), tz)
        if "created_at" not in doc:
            raise InvalidInput("created_at", "required for import (unix ms), so that a re-run makes the same "
                                             "document and skips it")
        doc.setdefault("v", 1)
        doc.setdefault("refs", [])
        if isinstance(doc.get("nonce"), str):
            doc["nonce"] = b64d(doc["nonce"], "nonce")
        elif "nonce" not in doc:
            doc["nonce"] = import_nonce(row.text.strip().encode())
    except InvalidInput as exc:
        return Problem(row.number, exc.field, _without_value(exc.rule))
    keys = None
    if key_paths:
        if key_loader is None:
            return Problem(row.number, "keys", "per-record key files are not allowed here")
        try:
            keys = tuple(key_loader(str((base / p) if base and not Path(p).is_absolute() else Path(p)))
                         for p in key_paths)
        except MinutebookError as exc:
            return Problem(row.number, "keys", exc.message)
    return _Candidate(doc, keys=keys)


def assign_waves(items: Sequence[Item]) -> None:
    """Set each item's wave (module doc, step 3; client/waves.py), in file order."""
    waves = Waves()
    for item in items:
        item.wave = waves.add_keys(item.facts.reads, item.facts.writes)


def check_units(plan: Plan, exists: Callable[[str], bool]) -> None:
    """Add a problem for every row naming a unit the node does not know (and no document of
    the import creates); `exists(unit)` is asked once per unit, from a few threads."""
    created = {k for i in plan.items for k in i.facts.writes if k.startswith("unit:")}
    by_unit: dict[str, list[Item]] = {}
    for item in plan.items:
        for unit in set(item.facts.units):
            if f"unit:{unit}" not in created:
                by_unit.setdefault(unit, []).append(item)
    units = sorted(by_unit)
    with ThreadPoolExecutor(max_workers=8) as pool:  # one request per unit; a few in parallel
        found = dict(zip(units, pool.map(exists, units)))
    for unit in units:
        if found[unit]:
            continue
        for item in by_unit[unit]:
            column = item.where.get("org", "") if item.facts.units[0] == unit else item.where.get("body.to_org", "")
            plan.problems.append(Problem(item.row, _with_letter(column, plan.letters),
                                         f"no unit {unit} in the ledger (or none the signing key may read)"))
    plan.problems.sort(key=lambda p: p.row)


# -- the resume file ------------------------------------------------------------------------


class ResumeFile:
    """What an import has settled, so that a re-run skips it (module doc, step 5)."""

    VERSION = 1

    def __init__(self, path: Path, header: dict) -> None:
        self.path = Path(path)
        self.header = header
        self.done: set[str] = set()
        self.done_rows: Counter = Counter()  # row key -> documents of that row settled
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, source: str, template: str, created_at: int | None, tz: str) -> "ResumeFile":
        """Read `path` if it exists (its created_at wins), else start one with `created_at` (now if None)."""
        path = Path(path)
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            try:
                header = json.loads(lines[0])
                if header.get("minutebook_import") != cls.VERSION:
                    raise ValueError("not a minutebook import resume file")
            except (IndexError, ValueError) as exc:
                raise InvalidInput(str(path), f"cannot read the resume file: {exc} (delete it to start over; "
                                              "documents committed before are then sent again and skipped)"
                                   ) from None
            if header.get("template") != template:
                raise InvalidInput(str(path), f"was written by an import with template {header.get('template')!r}, "
                                              f"not {template!r}")
            if created_at is not None and created_at != header["created_at"]:
                raise InvalidInput("created-at", f"the resume file {path.name} fixes created_at at "
                                                 f"{header['created_at']}; a different one would make different "
                                                 "documents")
            if header.get("tz") != tz:
                raise InvalidInput("tz", f"the resume file {path.name} was written reading dates in "
                                         f"{header.get('tz')}; give --tz {header.get('tz')} (another zone would make "
                                         "different documents)")
            resume = cls(path, header)
            for i, line in enumerate(lines[1:], start=2):
                try:
                    entry = json.loads(line)
                except ValueError:
                    if i == len(lines):  # torn by a crash while appending: that batch is sent again
                        break
                    raise InvalidInput(str(path), f"line {i} is damaged (delete the file to start over)") from None
                if entry.get("status") in ("committed", "already_committed"):
                    resume.done.add(entry["doc_id"])
                    if entry.get("key"):
                        resume.done_rows[entry["key"]] += 1
            return resume
        header = {"minutebook_import": cls.VERSION, "source": source, "template": template,
                  "created_at": created_at if created_at is not None else int(time.time() * 1000), "tz": tz}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, (json.dumps(header, ensure_ascii=False) + "\n").encode("utf-8"))
        return cls(path, header)

    @property
    def created_at(self) -> int:
        return int(self.header["created_at"])

    def record(self, entries: list[dict]) -> None:
        """Append settled documents, fsynced, before they are counted."""
        import os

        if not entries:
            return
        data = "".join(json.dumps(e) + "\n" for e in entries).encode("utf-8")
        with self._lock:
            with open(self.path, "ab") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            for e in entries:
                if e["status"] in ("committed", "already_committed"):
                    self.done.add(e["doc_id"])
                    if e.get("key"):
                        self.done_rows[e["key"]] += 1


# -- sending -------------------------------------------------------------------------------


class EnvelopeSigner:
    """Canonical envelope bytes of many documents signed by the same keys: what
    ``ledger.documents.make_envelope(doc, keys).to_bytes()`` gives, for a third of its cost
    (each key's Ed25519 expansion done once, not twice per document; the envelope assembled
    around the document's canonical bytes instead of encoded and checked again). The layout
    is the canonical map ``{doc, sigs: [{key, sig, signer}]}`` (README "Documents, envelopes,
    signatures"); tests/client/test_import.py checks the bytes against make_envelope's."""

    def __init__(self, keys: Sequence[Any]) -> None:
        import nacl.signing

        self._keys = [(k.id, nacl.signing.SigningKey(bytes(k.seed))) for k in keys]
        self._keys = [(ident, sk, bytes(sk.verify_key)) for ident, sk in self._keys]

    def envelope(self, doc: bytes) -> bytes:
        """The envelope of the document whose canonical bytes are `doc`."""
        import msgpack

        from ledger.keys import DOC_DOMAIN

        message = DOC_DOMAIN + doc
        sigs = [{"key": pk, "sig": sk.sign(message).signature, "signer": ident} for ident, sk, pk in self._keys]
        return b"\x82\xa3doc" + doc + b"\xa4sigs" + msgpack.packb(sigs, use_bin_type=True)


@dataclass(slots=True)
class SendResult:
    committed: int = 0
    already_committed: int = 0
    skipped: int = 0            # settled by an earlier run (the resume file)
    refused: list[Problem] = field(default_factory=list)
    unsettled: int = 0          # not seen committed after every round, or not sent because the import stopped
    stopped: str | None = None  # why the import stopped early


_FIELD_IN_MESSAGE = re.compile(r"^((?:body|doc)\.[A-Za-z0-9_.\[\]]+): ")


def _node_problem(item: Item, answer: dict, letters: dict) -> Problem:
    """A refusal by the node, placed by its `field` (or the field its message starts with)."""
    message = str(answer.get("message") or answer.get("error") or "refused")
    field_path = answer.get("field") if isinstance(answer.get("field"), str) else ""
    if not field_path and (m := _FIELD_IN_MESSAGE.match(message)):
        field_path = m[1]
    rule = message.removeprefix(f"{field_path}: ") if field_path else message
    column, reason = _located(field_path, rule, item.where, letters)
    return Problem(item.row, column, f"{reason} (HTTP {answer.get('http_status')} {answer.get('error')})",
                   stage="node")


def _duplicate_conflict(client: Any, item: Item, answer: dict, letters: dict) -> Problem | None:
    """None if the record the node holds for this act (409 ``duplicate_record``, ``existing``)
    says what the row says -- the same type, unit, body and refs: an earlier run of the import
    committed it under another ``created_at`` or nonce -- else the conflict, naming the row,
    the column of the act's identity and the record to amend (module doc, step 4)."""
    from ledger.documents import Envelope
    from ledger.jsonfmt import b64d

    existing = answer["existing"]
    try:
        held = Envelope.from_bytes(b64d(client.get_document(existing)["envelope"], "envelope")).doc
    except (api_errors.ApiError, MinutebookError, KeyError, TypeError) as exc:
        held, why = None, f" (it could not be read to compare: {exc})"
    else:
        why = ""
    mine = item.doc
    if held is not None and (held.type, held.org, held.body, list(held.refs)) == \
            (mine.type, mine.org, mine.body, list(mine.refs)):
        return None
    field_path = answer.get("field") if isinstance(answer.get("field"), str) else ""
    column, _ = _located(field_path, "", item.where, letters)
    return Problem(item.row, column, f"another record of this act is in the ledger, document {existing}, and it "
                                     f"says something else{why}: correct that one with an amendment "
                                     "(HTTP 409 duplicate_record)", stage="node")


def send_plan(client: Any, items: Sequence[Item], keys: Sequence[Any], resume: ResumeFile, *,
              batch_size: int = 1000, concurrency: int = 4, timeout: float = 60.0, rounds: int = 3,
              letters: dict | None = None, progress: Callable[[int, SendResult], None] | None = None) -> SendResult:
    """Sign what the plan left unsigned and send `items` wave by wave (module doc, step 4);
    `progress(advanced, result)` as documents settle."""
    return _Sender(client, keys, resume, batch_size=batch_size, concurrency=concurrency, timeout=timeout,
                   rounds=rounds, letters=letters or {}, progress=progress).send(items)


class _Stop(Exception):
    """The node cannot be reached (or stays unavailable past the SDK's retries)."""


class _Sender:
    """send_plan's state: one wave at a time, sent in batches from a few threads while this
    thread follows the node's blocks to see each document committed (module doc, step 4)."""

    def __init__(self, client: Any, keys: Sequence[Any], resume: ResumeFile, *, batch_size: int, concurrency: int,
                 timeout: float, rounds: int, letters: dict, progress: Callable | None) -> None:
        self.client, self.resume, self.letters, self.progress = client, resume, letters, progress
        self.batch_size, self.concurrency, self.timeout, self.rounds = batch_size, concurrency, timeout, rounds
        self.result = SendResult()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.default_signer = EnvelopeSigner(keys)
        self.signers: dict[tuple, EnvelopeSigner] = {}
        self.waiting: dict[str, Item] = {}   # sent (or about to be), not settled: doc id -> item
        self.not_admitted: set[str] = set()  # answered without being admitted: send again at once
        self.answered_stop = False            # stopped by an answer (not by silence): the blocks still read

    def send(self, items: Sequence[Item]) -> SendResult:
        result = self.result
        todo = [i for i in items if i.doc_id not in self.resume.done]
        result.skipped = len(items) - len(todo)
        self._advance(result.skipped)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for wave in sorted({i.wave for i in todo}):
                pending = [i for i in todo if i.wave == wave]
                for _ in range(self.rounds):
                    pending = self._round(pool, pending)
                    if not pending or self.stop.is_set():
                        break
                if pending:
                    result.unsettled += len(pending) + sum(1 for i in todo if i.wave > wave)
                    result.stopped = result.stopped or (
                        f"{len(pending)} documents were not seen committed after {self.rounds} tries; the "
                        "documents that depend on them were not sent")
                    break
        result.refused.sort(key=lambda p: p.row)
        return result

    def _advance(self, n: int) -> None:
        if self.progress and n:
            self.progress(n, self.result)

    def _envelope(self, item: Item) -> bytes:
        if item.envelope is not None:
            return item.envelope
        if not item.keys:
            return self.default_signer.envelope(item.doc_bytes)
        signer = self.signers.get(item.keys)
        if signer is None:
            signer = self.signers[item.keys] = EnvelopeSigner(item.keys)
        return signer.envelope(item.doc_bytes)

    def _round(self, pool: ThreadPoolExecutor, pending: list[Item]) -> list[Item]:
        """Send `pending` and follow the blocks until each is settled, or nothing more comes
        for `timeout` seconds after the last batch was answered; the items left."""
        try:
            start = int(self.client.status()["height"]) + 1  # the wave's documents can only be in later blocks
        except api_errors.SdkError as exc:
            self._stopped(exc)
            return pending
        self.waiting = {i.doc_id: i for i in pending}
        self.not_admitted = set()
        batches = [pending[k:k + self.batch_size] for k in range(0, len(pending), self.batch_size)]
        futures = [pool.submit(self._send_batch, batch) for batch in batches]
        quiet_since = time.monotonic()
        while not self.stop.is_set():
            sent = all(f.done() for f in futures)
            with self.lock:
                if not self.waiting or (sent and self.waiting.keys() <= self.not_admitted):
                    break
            try:
                page = self.client.blocks(start, 100)["blocks"]
            except api_errors.SdkError as exc:
                self._stopped(exc)
                break
            if page:
                start = page[-1]["height"] + 1
                if self._settle_blocks(page):
                    quiet_since = time.monotonic()
            elif sent and time.monotonic() - quiet_since > self.timeout:
                break
            else:
                if not sent:
                    quiet_since = time.monotonic()
                time.sleep(0.1)
        for f in futures:
            f.result()
        if self.answered_stop:  # the node answers, but refused to go on: record what it committed
            self._catch_up(start)
        with self.lock:
            left = list(self.waiting.values())
            self.waiting = {}
        return left

    def _stopped(self, exc: Exception) -> None:
        with self.lock:
            self.result.stopped = self.result.stopped or str(exc)
            self.answered_stop = self.answered_stop or isinstance(exc, api_errors.ApiError)
        self.stop.set()

    def _catch_up(self, start: int) -> None:
        """Settle what the blocks from `start` to the node's height hold, once."""
        try:
            while self.waiting:
                page = self.client.blocks(start, 100)["blocks"]
                if not page:
                    return
                start = page[-1]["height"] + 1
                self._settle_blocks(page)
        except api_errors.SdkError:
            return

    def _send_batch(self, batch: list[Item]) -> None:
        """Send one batch without waiting for its commit (202: admitted, journaled) and settle
        what its answers settle already: refusals, documents committed before."""
        if self.stop.is_set():
            return
        client, result = self.client, self.result
        try:
            answers = client.submit_batch([self._envelope(i) for i in batch], wait=False,
                                          max_documents=len(batch))
        except (api_errors.ForwardFailedError, api_errors.TimeoutError_):
            with self.lock:  # the node that took it could not pass it on in time: the same bytes next round
                self.not_admitted.update(i.doc_id for i in batch if i.doc_id in self.waiting)
            return
        except (api_errors.ConnectionFailed, api_errors.ApiError) as exc:
            if isinstance(exc, api_errors.ApiError) and refuses(exc.status, exc.code):
                with self.lock:  # the whole batch refused (too large, malformed): every row of it
                    for item in batch:
                        if self.waiting.pop(item.doc_id, None) is not None:
                            result.refused.append(Problem(item.row, "", f"{exc.message} (HTTP {exc.status} "
                                                                        f"{exc.code})", stage="node"))
                    self._advance(len(batch))
                return
            self._stopped(exc)
            return
        settled, duplicates = [], []
        with self.lock:
            for item, answer in zip(batch, answers):
                status = answer.get("status")
                if item.doc_id not in self.waiting or status == "pending":
                    continue  # settled by a block already, or to be seen in one
                if status in ("committed", "already_committed"):
                    settled.append(self._settled(item, status))
                elif answer.get("error") == "duplicate_record" and isinstance(answer.get("existing"), str):
                    duplicates.append((item, answer))
                elif status == "error" and refuses(answer.get("http_status"), answer.get("error")):
                    result.refused.append(_node_problem(item, answer, self.letters))
                    settled.append(self._settled(item, "refused"))
                else:  # not admitted (503 for this one, a 5xx): the same bytes again in the next round
                    self.not_admitted.add(item.doc_id)
        for item, answer in duplicates:  # a read each, outside the lock
            try:
                conflict = _duplicate_conflict(client, item, answer, self.letters)
            except api_errors.ConnectionFailed:
                with self.lock:
                    self.not_admitted.add(item.doc_id)
                continue
            with self.lock:
                if item.doc_id not in self.waiting:
                    continue
                if conflict is None:
                    settled.append(self._settled(item, "already_committed", existing=answer["existing"]))
                else:
                    result.refused.append(conflict)
                    settled.append(self._settled(item, "refused"))
        self._record(settled)

    def _settled(self, item: Item, status: str, **extra: Any) -> dict:
        """`item` off the waiting list and counted (under the lock); its resume-file entry."""
        del self.waiting[item.doc_id]
        self.not_admitted.discard(item.doc_id)
        if status == "committed":
            self.result.committed += 1
        elif status == "already_committed":
            self.result.already_committed += 1
        entry = {"row": item.row, "doc_id": item.doc_id, "status": status, **extra}
        if status != "refused":
            entry["key"] = item.row_key
        return entry

    def _record(self, settled: list[dict]) -> None:
        """Into the resume file (fsynced) before the progress shows them."""
        self.resume.record(settled)
        with self.lock:
            self._advance(len(settled))

    def _settle_blocks(self, blocks: list[dict]) -> bool:
        """Settle the waiting documents these blocks hold; True if any. A document listed as
        rejected because it is already accepted (a copy sent again) is committed."""
        settled, rejected = [], []
        with self.lock:
            for block in blocks:
                for d in block.get("documents", ()):
                    item = self.waiting.get(d.get("doc_id"))
                    if item is None:
                        continue
                    if d.get("status") == "accepted":
                        settled.append(self._settled(item, "committed"))
                    elif str(d.get("reason", "")).split(":", 1)[0] == "duplicate":
                        settled.append(self._settled(item, "already_committed"))
                    else:
                        rejected.append((item, str(d.get("reason") or "rejected")))
                        settled.append(self._settled(item, "refused"))
        for item, reason in rejected:
            problem = self._rejected(item, reason)
            with self.lock:
                self.result.refused.append(problem)
        self._record(settled)
        return bool(settled)

    def _rejected(self, item: Item, reason: str) -> Problem:
        """A document rejected when its block applied, with the registry's reason: a block shows
        most readers only its code, so the document is asked for (a read)."""
        try:
            reason = str(self.client.get_document(item.doc_id).get("reason") or reason)
        except api_errors.SdkError:
            pass
        code, _, message = reason.partition(": ")
        answer = {"message": message or code, "error": code if message else "rejected", "http_status": 422}
        return _node_problem(item, answer, self.letters)


# -- the report ------------------------------------------------------------------------------


def write_report(path: Path, problems: Iterable[Problem]) -> None:
    """CSV ``row,column,stage,reason`` (module doc), UTF-8 with a byte-order mark for Excel."""
    from .tabular import write_csv

    write_csv(path, REPORT_COLUMNS, [(p.row, p.column, p.stage, p.reason) for p in problems])
