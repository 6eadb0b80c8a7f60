"""Rows from the files a records office keeps: CSV, XLSX and JSON Lines.

Every reader yields :class:`Row` objects numbered as the person sees them in
their program: a spreadsheet's row number (the header is row 1, so the first
record is row 2), a JSONL file's line number. A problem with the file itself
(not UTF-8, no header, a sheet that does not exist) is an
:class:`~ledger.errors.InvalidInput` naming the line or sheet; a problem in
one row is left to the caller, who reports it by row and column.

CSV: UTF-8 with or without a byte-order mark (what Excel's "CSV UTF-8" writes);
the delimiter is a comma, a semicolon (what Excel writes where the decimal
separator is a comma, as in Vietnam) or a tab, whichever the header row uses.
XLSX: read with openpyxl, the first sheet unless one is named; date cells come
as ``datetime`` objects. Every text cell is trimmed and normalised to Unicode
NFC (Vietnamese has composed and decomposed spellings that look alike; the
ledger takes only NFC).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from ledger.errors import InvalidInput

__all__ = ["Row", "Table", "NotJson", "read_table", "column_letter", "write_csv", "write_xlsx", "FORMATS", "format_of"]

FORMATS = ("csv", "xlsx", "jsonl")
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class Row:
    """One record: `number` as the person sees it; `cells` by column name (tables) or
    `record` (a JSONL line's parsed object, or the text if it is not JSON)."""

    number: int
    cells: dict[str, Any] | None = None
    record: Any = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    format: str               # csv | xlsx | jsonl
    header: tuple[str, ...]   # column names (empty for jsonl)
    rows: Iterator[Row]
    where: str                # "row" or "line", for messages


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in ("csv", "txt", "tsv"):
        return "csv"
    if suffix in ("xlsx", "xlsm"):
        return "xlsx"
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    raise InvalidInput("file", f"{Path(path).name}: expected a .csv, .xlsx or .jsonl file")


def column_letter(index: int) -> str:
    """The spreadsheet letter of 0-based column `index` (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value.strip())
        return value if value else None
    return value


def _header(cells: Sequence[Any], where: str) -> tuple[str, ...]:
    names = [(_clean(c) if isinstance(c, str) else c) for c in cells]
    while names and names[-1] in (None, ""):
        names.pop()
    if not names:
        raise InvalidInput(where, "no header row: the first row must name the columns (`minutebook import "
                                  "--template NAME` writes one)")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{where}, column {column_letter(i)}", "the header cell is empty")
        if name.lower() in seen:
            raise InvalidInput(f"{where}, column {column_letter(i)}",
                               f"column {name!r} appears twice (first in {column_letter(seen[name.lower()])})")
        seen[name.lower()] = i
    return tuple(n.lower() for n in names)


def _cells(header: tuple[str, ...], values: Sequence[Any], number: int, where: str) -> dict[str, Any] | None:
    values = [_clean(v) for v in values]
    if all(v is None for v in values):
        return None
    extra = [i for i in range(len(header), len(values)) if values[i] is not None]
    if extra:
        raise InvalidInput(f"{where} {number}, column {column_letter(extra[0])}",
                           "a value beyond the last named column")
    return {name: (values[i] if i < len(values) else None) for i, name in enumerate(header)}


def _decode_utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InvalidInput(f"{name}, line {line}", "not UTF-8 text (save the file as \"CSV UTF-8\")") from None


def _read_csv(path: Path) -> Table:
    text = _decode_utf8(path.read_bytes(), path.name)
    first = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = _header(next(reader, []), f"{path.name}, row 1")
    except csv.Error as exc:
        raise InvalidInput(f"{path.name}, row 1", f"not CSV: {exc}") from None

    def rows() -> Iterator[Row]:
        try:
            for values in reader:
                number = reader.line_num  # the physical line; a quoted cell may span lines
                cells = _cells(header, values, number, "row")
                if cells is not None:
                    yield Row(number, cells=cells)
        except csv.Error as exc:
            raise InvalidInput(f"row {reader.line_num}", f"not CSV: {exc}") from None

    return Table("csv", header, rows(), "row")


def _read_xlsx(path: Path, sheet: str | None) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise InvalidInput(path.name, f"cannot read the workbook: {exc}") from None
    if sheet is not None and sheet not in book.sheetnames:
        raise InvalidInput("sheet", f"no sheet {sheet!r} in {path.name} (sheets: {', '.join(book.sheetnames)})")
    ws = book[sheet] if sheet is not None else book.worksheets[0]
    values = ws.iter_rows(values_only=True)
    header = _header(next(values, ()), f"{path.name}, sheet {ws.title}, row 1")

    def rows() -> Iterator[Row]:
        try:
            for number, row in enumerate(values, start=2):
                cells = _cells(header, row, number, "row")
                if cells is not None:
                    yield Row(number, cells=cells)
        finally:
            book.close()

    return Table("xlsx", header, rows(), "row")


def _read_jsonl(path: Path) -> Table:
    text = _decode_utf8(path.read_bytes(), path.name)

    def rows() -> Iterator[Row]:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                yield Row(number, record=NotJson(str(exc)), text=line)
                continue
            yield Row(number, record=record, text=line)

    return Table("jsonl", (), rows(), "line")


@dataclass(frozen=True, slots=True)
class NotJson:
    """The record of a JSONL line that is not JSON: the parser's message."""

    error: str


def read_table(path: str | Path, *, sheet: str | None = None) -> Table:
    """The rows of `path`, by its extension (module doc)."""
    path = Path(path)
    fmt = format_of(path)
    if not path.is_file():
        raise InvalidInput("file", f"no such file: {path}")
    if sheet is not None and fmt != "xlsx":
        raise InvalidInput("sheet", "only an XLSX workbook has sheets")
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "xlsx":
        return _read_xlsx(path, sheet)
    return _read_jsonl(path)


def write_csv(path_or_file: Any, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Header and rows as UTF-8 CSV with a byte-order mark (Excel then reads Vietnamese right)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = ("\ufeff" + buf.getvalue()).encode("utf-8")
    if hasattr(path_or_file, "write"):
        path_or_file.write(data)
    else:
        from ledger.files import write_atomically

        write_atomically(path_or_file, data)


def write_xlsx(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[Any]], *,
               notes: Sequence[Sequence[str]] = (), choices: dict[str, Sequence[str]] | None = None) -> None:
    """A workbook: sheet "records" with a bold header, `rows` (datetimes as date cells) and a
    drop-down list for each column in `choices`; sheet "columns" with `notes` rows."""
    import datetime

    import openpyxl
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "records"
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row))
    for col_cells in ws.iter_cols(min_row=2):
        for cell in col_cells:
            if isinstance(cell.value, datetime.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm" if (cell.value.hour or cell.value.minute) else "yyyy-mm-dd"
    for i, name in enumerate(header):
        ws.column_dimensions[column_letter(i)].width = max(12, len(name) + 4)
        if choices and name in choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(choices[name]) + '"', allow_blank=True)
            ws.add_data_validation(dv)
            dv.add(f"{column_letter(i)}2:{column_letter(i)}1048576")
    ws.freeze_panes = "A2"
    if notes:
        info = book.create_sheet("columns")
        for note in notes:
            info.append(list(note))
        for cell in info[1]:
            cell.font = Font(bold=True)
        info.column_dimensions["A"].width = 18
        info.column_dimensions["D"].width = 80
    buf = io.BytesIO()
    book.save(buf)
    from ledger.files import write_atomically

    write_atomically(path, buf.getvalue())
