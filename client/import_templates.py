"""Column templates for importing records from spreadsheets, as data.

A template names the columns of one kind of record (``members``,
``status``, ``resolutions``, ...) and says which documents a row becomes:
each :class:`DocSpec` maps document fields (``org``, ``body.effective_at``)
to columns or fixed values. How a cell is read follows the ledger's own body
schema at that field (``ledger/schemas.py``): a ``time`` field takes a date,
a ``count`` a whole number, a list field items separated by ``;``. So the
templates hold no rule about a field that the ledger does not already hold,
and a template can only name fields the schema has.

Cells (:func:`read_cell`):

- times: an ISO 8601 date (``1965-03-02``) or date and time
  (``2026-09-01T19:00``, ``2026-09-01 19:00+07:00``), read in the import's
  time zone when it has no offset (``--tz``, default ``$MINUTEBOOK_TZ`` or
  Asia/Ho_Chi_Minh), or an Excel date cell. A plain number is taken as unix
  milliseconds only with 11 or more digits, so that an Excel day number
  (``23803``) or a bare year is never read as a moment of 1970.
- whole numbers: ``12`` (an XLSX number cell, or text of digits).
- yes/no: ``true``/``false``, ``yes``/``no``, ``1``/``0``, ``có``/``không``.
- lists: items separated by ``;``. Special columns of minutes: ``present``
  (member ids), ``absent`` (``m0012: ốm; m0013``: member id and optional
  reason), ``votes`` (``Thông qua kế hoạch = 12/0/1``: motion = for/against/abstain).

A :class:`CellError` never contains the cell's value (the import's report
must hold no personal data, and a name typed into a date column is one).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any

from ledger.errors import InvalidInput
from ledger.jsonfmt import b64d
from ledger.schemas import BODY_SCHEMAS, Enum, ListOf, Nullable, Obj

__all__ = ["Column", "Fixed", "DocSpec", "Template", "TEMPLATES", "CellError", "read_cell", "spec_at",
           "row_documents", "documents_in", "describe_spec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    name: str
    help: str
    example: Any = None
    required: bool = False
    default: Any = None      # the value of an empty optional cell (None: leave the field out)
    kind: str | None = None  # present | absent | votes; else read by the schema at its field


@dataclass(frozen=True, slots=True)
class Fixed:
    value: Any


@dataclass(frozen=True, slots=True)
class DocSpec:
    """One document a row becomes: field path -> column name, tuple of column names
    (lists joined), or Fixed(value). Made only when the `when` column has a value."""

    type: str
    fields: dict
    when: str | None = None


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    description: str
    columns: tuple[Column, ...]
    docs: tuple[DocSpec, ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


class CellError(Exception):
    """A cell that cannot be read: `rule` never contains the cell's value."""

    def __init__(self, column: str, rule: str) -> None:
        super().__init__(f"{column}: {rule}")
        self.column = column
        self.rule = rule


# -- the schema at a field --------------------------------------------------------

_DOC_FIELD_SPECS = {"org": "path"}


def spec_at(doc_type: str, path: str) -> Any:
    """The schema spec of field `path` (``org``, ``body.tally.for``) of `doc_type`."""
    if path in _DOC_FIELD_SPECS:
        return _DOC_FIELD_SPECS[path]
    parts = path.split(".")
    if parts[0] != "body" or doc_type not in BODY_SCHEMAS:
        raise KeyError(path)
    spec: Any = BODY_SCHEMAS[doc_type]
    for part in parts[1:]:
        while isinstance(spec, Nullable):
            spec = spec.spec
        if not isinstance(spec, Obj) or part not in spec.fields:
            raise KeyError(path)
        spec = spec.fields[part][0]
    return spec


def describe_spec(spec: Any, kind: str | None = None) -> str:
    """How to write a cell for `spec` (the template's notes and the README)."""
    if kind == "present":
        return "member ids separated by ;"
    if kind == "absent":
        return "member id, optionally ': reason', separated by ; (m0012: ốm; m0013)"
    if kind == "votes":
        return "motion = for/against/abstain, separated by ; (Thông qua kế hoạch = 12/0/1)"
    while isinstance(spec, Nullable):
        spec = spec.spec
    if isinstance(spec, Enum):
        return "one of " + ", ".join(spec.values)
    if isinstance(spec, ListOf):
        return f"items separated by ; (each {describe_spec(spec.item)})"
    return {
        "time": "date 1965-03-02, or date and time 2026-09-01T19:00 (+07:00 optional), or an Excel date",
        "count": "whole number >= 0",
        "bool": "yes or no (true/false, 1/0, có/không)",
        "key32": "base64url, 32 bytes",
        "member": "member id",
        "path": "org unit path (central/p1/k1/s1)",
        "doc_id": "document id (64 hex)",
        "name": "text, not empty",
    }.get(spec, "text")


# -- reading cells -------------------------------------------------------------------

_NOT_A_DATE = "not a date: write 1965-03-02 or 2026-09-01T19:00 (an offset such as +07:00 may follow)"
_YES = {"true", "yes", "1", "có", "x"}
_NO = {"false", "no", "0", "không"}
_DIGITS = re.compile(r"^[+-]?[0-9]+$")
_VOTE = re.compile(r"^(?P<motion>.+?)\s*=\s*(?P<for>[0-9]+)\s*/\s*(?P<against>[0-9]+)\s*/\s*(?P<abstain>[0-9]+)$")


def _split(value: Any) -> list[str]:
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return str(value)


def _time(value: Any, column: Column, tz: Any) -> int:
    from .docinput import read_time

    if isinstance(value, bool):
        raise CellError(column.name, "expected a date, got yes/no")
    if isinstance(value, (int, float)):  # an XLSX number cell in a date column
        raise CellError(column.name, "a number, not a date: format the cell as a date, or write 1965-03-02")
    text = _text(value)
    if _DIGITS.match(text) and len(text.lstrip("+-")) < 11:
        raise CellError(column.name, "a short number is no date (unix milliseconds have 11 or more digits); "
                                     "write 1965-03-02")
    try:
        return read_time(value if isinstance(value, (_dt.date, _dt.datetime)) else text, column.name, tz)
    except InvalidInput as exc:
        rule = exc.rule if "out of range" in exc.rule else _NOT_A_DATE
        raise CellError(column.name, rule) from None


def _count(value: Any, column: Column) -> int:
    if isinstance(value, bool):
        raise CellError(column.name, "expected a whole number >= 0, got yes/no")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.match(value):
        number = int(value)
    else:
        raise CellError(column.name, "expected a whole number >= 0")
    if number < 0:
        raise CellError(column.name, "expected a whole number >= 0, not a negative one")
    return number


def _bool(value: Any, column: Column) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise CellError(column.name, "expected yes or no")


def read_cell(spec: Any, column: Column, value: Any, *, tz: Any = None) -> Any:
    """The field value of one non-empty cell under `spec` (module doc); CellError if it cannot be read."""
    if column.kind == "present":
        return [{"member": m, "present": True} for m in _split(value)]
    if column.kind == "absent":
        out = []
        for part in _split(value):
            member, _, reason = part.partition(":")
            entry = {"member": member.strip(), "present": False}
            if reason.strip():
                entry["reason"] = reason.strip()
            out.append(entry)
        return out
    if column.kind == "votes":
        votes = []
        for i, part in enumerate(_split(value)):
            m = _VOTE.match(part)
            if not m:
                raise CellError(column.name, f"vote {i + 1}: expected 'motion = for/against/abstain'")
            votes.append({"motion": m["motion"], "for": int(m["for"]), "against": int(m["against"]),
                          "abstain": int(m["abstain"])})
        return votes
    while isinstance(spec, Nullable):
        spec = spec.spec
    if isinstance(spec, ListOf):
        return [read_cell(spec.item, column, part, tz=tz) for part in _split(value)]
    if isinstance(spec, Enum):
        return _text(value).strip().lower()
    if spec == "time":
        return _time(value, column, tz)
    if spec == "count":
        return _count(value, column)
    if spec == "bool":
        return _bool(value, column)
    if spec == "key32":
        try:
            return b64d(_text(value), column.name, length=32)
        except InvalidInput as exc:
            raise CellError(column.name, exc.rule) from None
    return _text(value)


def _set(doc: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    target = doc
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


@dataclass(frozen=True, slots=True)
class _Field:
    path: str
    columns: tuple[Column, ...]
    spec: Any


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A DocSpec with its columns and schema specs looked up once."""

    type: str
    when: str | None
    fixed: tuple[tuple[str, Any], ...]
    fields: tuple[_Field, ...]
    where: dict  # field path -> column name (or "a+b")


_COMPILED: dict[str, tuple[_Compiled, ...]] = {}


def _compiled(template: Template) -> tuple[_Compiled, ...]:
    compiled = _COMPILED.get(template.name)
    if compiled is None:
        by_name = {c.name: c for c in template.columns}
        out = []
        for spec in template.docs:
            fixed, fields, where = [], [], {}
            for path, source in spec.fields.items():
                if isinstance(source, Fixed):
                    fixed.append((path, source.value))
                    continue
                names = source if isinstance(source, tuple) else (source,)
                fields.append(_Field(path, tuple(by_name[n] for n in names), spec_at(spec.type, path)))
                where[path] = "+".join(names)
            out.append(_Compiled(spec.type, spec.when, tuple(fixed), tuple(fields), where))
        compiled = _COMPILED[template.name] = tuple(out)
    return compiled


def documents_in(template: Template, cells: dict[str, Any]) -> int:
    """How many documents a row makes (without reading its cells)."""
    return sum(1 for spec in template.docs if spec.when is None or cells.get(spec.when) is not None)


def row_documents(template: Template, cells: dict[str, Any], *, tz: Any = None
                  ) -> tuple[list[tuple[dict, dict[str, str]]], list[CellError]]:
    """The documents of one row as ``[(doc, {field path: column})]`` and every cell problem.

    A doc is ``{type, org, body}`` (the caller adds ``created_at`` and the nonce)."""
    problems = [CellError(c.name, "required, but empty") for c in template.columns
                if c.required and cells.get(c.name) is None]
    docs = []
    for spec in _compiled(template):
        if spec.when is not None and cells.get(spec.when) is None:
            continue
        doc: dict = {"type": spec.type, "body": {}}
        for path, value in spec.fixed:
            _set(doc, path, list(value) if isinstance(value, list) else value)
        for f in spec.fields:
            values = []
            for column in f.columns:
                value = cells.get(column.name)
                if value is None:
                    if column.default is not None:
                        values.append(list(column.default) if isinstance(column.default, list) else column.default)
                    continue
                try:
                    values.append(read_cell(f.spec, column, value, tz=tz))
                except CellError as exc:
                    problems.append(exc)
            if values:
                _set(doc, f.path, values[0] if len(f.columns) == 1 else [item for v in values for item in v])
        docs.append((doc, spec.where))
    return docs, _unique(problems)


def _unique(problems: list[CellError]) -> list[CellError]:
    seen, out = set(), []
    for p in problems:
        if (p.column, p.rule) not in seen:
            seen.add((p.column, p.rule))
            out.append(p)
    return out


# -- the templates ---------------------------------------------------------------------

_UNIT = Column(name="unit", required=True, example="central/p1/k1/s1",
               help="the member's unit (the cell), as an org path")
_MEMBER = Column(name="member_id", required=True, example="m0100", help="the member's id in the registry")
_D = _dt.datetime


def _member_fields(**more: Any) -> dict:
    return {"org": "unit", "body.member": "member_id", **more}


_TEMPLATES = (
    Template(
        name="members",
        description="Member files: one row per member, admitted (and made full, when full_at is given).",
        columns=(
            _UNIT, _MEMBER,
            Column(name="name", example="Nguyễn Thị Hoa", help="full name"),
            Column(name="admitted_at", required=True, example=_D(1965, 3, 2), help="date of admission"),
            Column(name="reason", default="", example="Kết nạp theo nghị quyết của chi bộ",
                   help="grounds of admission (optional)"),
            Column(name="public_key", example="", help="the member's Ed25519 public key, if they have one"),
            Column(name="full_at", example=_D(1966, 3, 2),
                   help="date the member became a full member (empty: still probationary)"),
            Column(name="full_reason", default="", example="Hết thời gian dự bị",
                   help="grounds of full membership (optional)"),
        ),
        docs=(
            DocSpec("member_status", _member_fields(**{
                "body.change": Fixed("admitted"), "body.effective_at": "admitted_at", "body.reason": "reason",
                "body.name": "name", "body.public_key": "public_key"})),
            DocSpec("member_status", _member_fields(**{
                "body.change": Fixed("made_full"), "body.effective_at": "full_at", "body.reason": "full_reason"}),
                when="full_at"),
        ),
    ),
    Template(
        name="status",
        description="Changes of members' status: transfers, awards, discipline, resignations...",
        columns=(
            _UNIT, _MEMBER,
            Column(name="change", required=True, example="transferred", help="what changed"),
            Column(name="effective_at", required=True, example=_D(2019, 6, 1), help="date it took effect"),
            Column(name="reason", default="", example="Chuyển nơi cư trú", help="grounds"),
            Column(name="to_org", example="central/p1/k1/s2", help="the new unit (transfers only)"),
        ),
        docs=(DocSpec("member_status", _member_fields(**{
            "body.change": "change", "body.effective_at": "effective_at", "body.reason": "reason",
            "body.to_org": "to_org"})),),
    ),
    Template(
        name="profile",
        description="Profile entries: training, education, political theory, languages...",
        columns=(
            _UNIT, _MEMBER,
            Column(name="kind", required=True, example="political_theory", help="kind of entry"),
            Column(name="title", required=True, example="Trung cấp lý luận chính trị",
                   help="what was studied or earned"),
            Column(name="institution", example="Trường Chính trị tỉnh", help="where (optional)"),
            Column(name="started_at", example=_D(2018, 9, 1), help="start date (optional)"),
            Column(name="completed_at", example=_D(2019, 6, 30), help="completion date (optional)"),
            Column(name="result", example="Khá", help="grade or certificate (optional)"),
            Column(name="note", example="", help="note (optional)"),
        ),
        docs=(DocSpec("profile_entry", _member_fields(**{
            "body.kind": "kind", "body.title": "title", "body.institution": "institution",
            "body.started_at": "started_at", "body.completed_at": "completed_at", "body.result": "result",
            "body.note": "note"})),),
    ),
    Template(
        name="resolutions",
        description="Resolutions of a unit, with their vote tally (tasks: use JSONL).",
        columns=(
            Column(name="unit", required=True, example="central/p1/k1/s1", help="the unit that adopted it"),
            Column(name="number", required=True, example="12/NQ-CB", help="the resolution's number"),
            Column(name="title", required=True, example="Nghị quyết về trồng rừng phòng hộ", help="title"),
            Column(name="text", default="", example="Chi bộ thống nhất trồng 5 ha rừng phòng hộ.", help="text"),
            Column(name="adopted_at", required=True, example=_D(2019, 11, 20, 19, 30), help="date adopted"),
            Column(name="for", required=True, example=12, help="votes for"),
            Column(name="against", required=True, example=0, help="votes against"),
            Column(name="abstain", required=True, example=1, help="abstentions"),
            Column(name="eligible", required=True, example=15, help="members eligible to vote"),
            Column(name="minutes", example="", help="document id of the minutes that adopted it (optional)"),
        ),
        docs=(DocSpec("resolution", {
            "org": "unit", "body.number": "number", "body.title": "title", "body.text": "text",
            "body.adopted_at": "adopted_at", "body.tally.for": "for", "body.tally.against": "against",
            "body.tally.abstain": "abstain", "body.tally.eligible": "eligible", "body.minutes": "minutes",
            "body.tasks": Fixed([])}),),
    ),
    Template(
        name="minutes",
        description="Minutes of meetings, with attendance and votes (opinions: use JSONL).",
        columns=(
            Column(name="unit", required=True, example="central/p1/k1/s1", help="the unit that met"),
            Column(name="meeting_id", required=True, example="central/p1/k1/s1/2019-11", help="the meeting's id"),
            Column(name="kind", required=True, example="regular", help="kind of meeting"),
            Column(name="held_at", required=True, example=_D(2019, 11, 20, 19, 0), help="when it was held"),
            Column(name="scheduled_for", example=_D(2019, 11, 20, 19, 0), help="when it was due (optional)"),
            Column(name="mode", required=True, example="in_person", help="how it met"),
            Column(name="chair", required=True, example="m0011", help="the chair's member id"),
            Column(name="secretary", required=True, example="m0010", help="the secretary's member id"),
            Column(name="present", kind="present", example="m0010; m0011; m0012", help="members present"),
            Column(name="absent", kind="absent", example="m0013: ốm; m0014",
                   help="members absent, each with the reason if any"),
            Column(name="agenda", default=[], example="Kế hoạch tháng 12; Kết nạp đảng viên", help="agenda items"),
            Column(name="decisions", default=[], example="Thông qua kế hoạch tháng 12", help="decisions"),
            Column(name="votes", kind="votes", default=[], example="Thông qua kế hoạch = 3/0/0", help="votes"),
            Column(name="text", default="", example="Biên bản sinh hoạt chi bộ tháng 11.",
                   help="the minutes' text"),
        ),
        docs=(DocSpec("minutes", {
            "org": "unit", "body.meeting_id": "meeting_id", "body.kind": "kind", "body.held_at": "held_at",
            "body.scheduled_for": "scheduled_for", "body.mode": "mode", "body.chair": "chair",
            "body.secretary": "secretary", "body.attendees": ("present", "absent"), "body.agenda": "agenda",
            "body.opinions": Fixed([]), "body.votes": "votes", "body.decisions": "decisions",
            "body.text": "text"}),),
    ),
    Template(
        name="findings",
        description="Inspection findings about a unit or a member.",
        columns=(
            Column(name="unit", required=True, example="central/p1/k1",
                   help="the inspecting committee (an ancestor of the subject)"),
            Column(name="inspection_id", required=True, example="KT-2019-07", help="the inspection's id"),
            Column(name="subject_unit", example="central/p1/k1/s2", help="the unit inspected (or subject_member)"),
            Column(name="subject_member", example="", help="the member inspected (or subject_unit)"),
            Column(name="finding", required=True,
                   example="Chi bộ không sinh hoạt thường kỳ hai tháng liền.", help="what was found"),
            Column(name="severity", required=True, example="major", help="how serious"),
            Column(name="recommendations", default=[],
                   example="Tổ chức sinh hoạt bù; Chi ủy kiểm điểm", help="what should be done"),
        ),
        docs=(DocSpec("inspection_finding", {
            "org": "unit", "body.inspection_id": "inspection_id", "body.subject.unit": "subject_unit",
            "body.subject.member": "subject_member", "body.finding": "finding", "body.severity": "severity",
            "body.recommendations": "recommendations"}),),
    ),
)

TEMPLATES: dict[str, Template] = {t.name: t for t in _TEMPLATES}


def _check_templates() -> None:
    """Every field a template fills exists in the ledger's schema (a typo fails on import)."""
    for t in TEMPLATES.values():
        for spec in t.docs:
            for path, source in spec.fields.items():
                spec_at(spec.type, path)
                for name in (source if isinstance(source, tuple) else (source,)):
                    if not isinstance(name, Fixed):
                        t.column(name)


_check_templates()
