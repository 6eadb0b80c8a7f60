"""Export for analysts: the ledger's documents as one table per type, and the
monthly figures, as Parquet or CSV files that DuckDB, Spark or Trino read.

Documents come from a node's blocks (``GET /v1/blocks``, then each block's
envelopes), so an export holds exactly the accepted documents of the ledger
up to one height, and a later export can continue from there
(``--from-height``). Every envelope is decoded and its document hashed again
here; a node that served bytes whose id does not match is an error, not a row.

Tables are derived from the body schemas (``ledger/schemas.py``), so a new
document type gets its table with no change here:

- ``<type>``: one row per document. Common columns: ``doc_id``,
  ``leaf_index``, ``height``, ``block_time``, ``org``, ``created_at``,
  ``refs``, ``signers``; then every body field, nested objects flattened with
  ``_`` (``tally_for``). Types: ``time`` → timestamp (ms, UTC) in Parquet, ISO
  8601 in the display zone in CSV; ``count`` → int64; ``bool`` → boolean;
  ``key32`` → base64url text; an enum or text → string; a list of scalars →
  a list column (``;``-joined in CSV); ``any_map`` → JSON text.
- ``<type>_<field>``: a list of objects (minutes' ``attendees``, ``opinions``,
  ``votes``, a resolution's ``tasks``) as a child table, one row per item:
  ``doc_id``, ``item`` (its index), then the item's fields.
- ``monthly``: one row per (unit, month) for every unit of the exported
  subtree: ``unit``, ``name``, ``kind``, ``depth`` (levels below the exported
  root), ``month`` (``YYYY-MM``, the chain's time zone), then every figure of
  ``GET /v1/orgs/{path}/stats?by=month`` flattened with ``_``. A unit's figures
  include its whole subtree: sum one level (or cells only), not several.

Alongside, ``export.json`` records what the files hold: the node, the height
and tree head (``log_size``, ``log_root``) the export reflects, each table's
rows and file, and the time zone of CSV times.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ledger.schemas import BODY_SCHEMAS, Enum, ListOf, Nullable, Obj

__all__ = ["TableSpec", "document_tables", "DocumentRows", "TableWriter", "export_documents", "export_monthly",
           "flatten_figures", "FORMATS", "COMMON_COLUMNS"]

FORMATS = ("parquet", "csv")
FLUSH_ROWS = 50_000
COMMON_COLUMNS = (("doc_id", "str"), ("leaf_index", "int"), ("height", "int"), ("block_time", "time"),
                  ("org", "str"), ("created_at", "time"), ("refs", "list"), ("signers", "list"))


# -- table shapes, from the schemas ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table: its name and (column, kind) pairs; kind is str | int | bool | time | list | json."""

    name: str
    columns: tuple[tuple[str, str], ...]
    paths: tuple[tuple[str, ...], ...] = ()  # body path of each non-common column
    child_field: str | None = None            # for a child table: the body list it unrolls


def _kind(spec: Any) -> str:
    while isinstance(spec, Nullable):
        spec = spec.spec
    if isinstance(spec, Enum):
        return "str"
    if isinstance(spec, ListOf):
        return "list"
    if spec == "any_map" or isinstance(spec, Obj):
        return "json"
    return {"time": "time", "count": "int", "bool": "bool"}.get(spec, "str")


def _flat_fields(obj: Obj, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, (spec, _) in obj.fields.items():
        inner = spec.spec if isinstance(spec, Nullable) else spec
        if isinstance(inner, Obj):
            yield from _flat_fields(inner, prefix + (name,))
        else:
            yield prefix + (name,), spec


def document_tables(doc_type: str) -> list[TableSpec]:
    """The table of `doc_type` and its child tables (module doc)."""
    schema = BODY_SCHEMAS[doc_type]
    main_cols, main_paths, children = [], [], []
    for path, spec in _flat_fields(schema):
        inner = spec.spec if isinstance(spec, Nullable) else spec
        if isinstance(inner, ListOf) and isinstance(inner.item, Obj):
            item_paths = list(_flat_fields(inner.item))
            children.append(TableSpec(
                name=f"{doc_type}_{'_'.join(path)}",
                columns=(("doc_id", "str"), ("item", "int"), *(("_".join(p), _kind(s)) for p, s in item_paths)),
                paths=tuple(p for p, _ in item_paths), child_field=".".join(path)))
            continue
        main_cols.append(("_".join(path), _kind(spec)))
        main_paths.append(path)
    taken = {c for c, _ in COMMON_COLUMNS}
    main_cols = [(f"body_{c}" if c in taken else c, k) for c, k in main_cols]
    return [TableSpec(doc_type, COMMON_COLUMNS + tuple(main_cols), tuple(main_paths)), *children]


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


# -- writing tables -------------------------------------------------------------------------


class TableWriter:
    """Rows of one table to a Parquet or CSV file, flushed every FLUSH_ROWS rows."""

    def __init__(self, spec: TableSpec, path: Path, fmt: str, tz: Any) -> None:
        self.spec = spec
        self.path = path
        self.fmt = fmt
        self.tz = tz
        self.rows = 0
        self._buffer: list[list] = []
        self._writer: Any = None
        self._csv_file: Any = None

    def add(self, row: list) -> None:
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= FLUSH_ROWS:
            self.flush()

    def _arrow_schema(self) -> Any:
        import pyarrow as pa

        types = {"str": pa.string(), "int": pa.int64(), "bool": pa.bool_(), "time": pa.timestamp("ms", tz="UTC"),
                 "list": pa.list_(pa.string()), "json": pa.string()}
        return pa.schema([(name, types[kind]) for name, kind in self.spec.columns])

    def flush(self) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = self._arrow_schema()
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
            columns = list(zip(*self._buffer)) if self._buffer else [[] for _ in self.spec.columns]
            arrays = [pa.array([_arrow_value(v, kind) for v in col], type=schema.field(i).type)
                      for i, (col, (_, kind)) in enumerate(zip(columns, self.spec.columns))]
            if self._buffer or self.rows == 0:
                self._writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        else:
            if self._csv_file is None:
                self._csv_file = open(self._tmp, "w", encoding="utf-8-sig", newline="")
                self._csv = csv.writer(self._csv_file)
                self._csv.writerow([name for name, _ in self.spec.columns])
            for row in self._buffer:
                self._csv.writerow([_csv_value(v, kind, self.tz) for v, (_, kind) in zip(row, self.spec.columns)])
        self._buffer = []

    @property
    def _tmp(self) -> Path:
        return self.path.with_name(f".{self.path.name}.tmp")

    def close(self) -> None:
        """Write what is left and move the finished file into place (fsynced)."""
        import os

        from ledger.files import fsync_directory

        self.flush()
        if self._writer is not None:
            self._writer.close()
        if self._csv_file is not None:
            self._csv_file.flush()
            os.fsync(self._csv_file.fileno())
            self._csv_file.close()
        else:
            with open(self._tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(self._tmp, self.path)
        fsync_directory(self.path.parent)


def _arrow_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "time":
        import datetime

        return datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(milliseconds=value)
    if kind == "list":
        return [_text(v) for v in value]
    if kind == "json":
        return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)
    if kind == "str":
        return _text(value)
    return value


def _csv_value(value: Any, kind: str, tz: Any) -> Any:
    from ledger.timefmt import format_time

    if value is None:
        return ""
    if kind == "time":
        return format_time(value, tz, seconds=True)
    if kind == "list":
        return ";".join(_text(v) for v in value)
    if kind == "json":
        return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)
    if kind == "bool":
        return "true" if value else "false"
    return _text(value) if kind == "str" else value


def _text(value: Any) -> str:
    from ledger.jsonfmt import b64e

    return b64e(value) if isinstance(value, (bytes, bytearray)) else str(value)


def _jsonable(value: Any) -> Any:
    from ledger.jsonfmt import b64e

    if isinstance(value, (bytes, bytearray)):
        return b64e(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


# -- documents ----------------------------------------------------------------------------------


@dataclass(slots=True)
class DocumentRows:
    """Writers per table, opened as their type first appears."""

    out: Path
    fmt: str
    tz: Any
    types: frozenset | None = None
    org: str | None = None
    writers: dict[str, TableWriter] = field(default_factory=dict)
    specs: dict[str, list[TableSpec]] = field(default_factory=dict)

    def _writer(self, spec: TableSpec) -> TableWriter:
        w = self.writers.get(spec.name)
        if w is None:
            w = self.writers[spec.name] = TableWriter(spec, self.out / f"{spec.name}.{self.fmt}", self.fmt, self.tz)
        return w

    def wants(self, doc: dict) -> bool:
        if self.types is not None and doc["type"] not in self.types:
            return False
        if self.org is not None and not (doc["org"] == self.org or doc["org"].startswith(self.org + "/")):
            return False
        return doc["type"] in BODY_SCHEMAS

    def add(self, doc: dict, sigs: list, *, doc_id: str, leaf_index: int, height: int, block_time: int) -> None:
        specs = self.specs.get(doc["type"])
        if specs is None:
            specs = self.specs[doc["type"]] = document_tables(doc["type"])
        body = doc["body"] if isinstance(doc["body"], dict) else {}
        main, children = specs[0], specs[1:]
        row = [doc_id, leaf_index, height, block_time, doc["org"], doc["created_at"], list(doc["refs"]),
               [s["signer"] for s in sigs]]
        row += [_get(body, p) for p in main.paths]
        self._writer(main).add(row)
        for child in children:
            items = _get(body, tuple(child.child_field.split(".")))
            for i, item in enumerate(items or []):
                self._writer(child).add([doc_id, i, *(_get(item, p) for p in child.paths)])

    def close(self) -> dict[str, dict]:
        tables = {}
        for name, w in sorted(self.writers.items()):
            w.close()
            tables[name] = {"file": w.path.name, "rows": w.rows}
        return tables


def export_documents(client: Any, rows: DocumentRows, *, from_height: int = 0, tip: int,
                     advance: Callable[[int], None] = lambda n: None) -> int:
    """Write every accepted document of blocks from_height+1..tip; returns how many."""
    from ledger.documents import Envelope
    from ledger.errors import InvalidInput

    from .cli_audit import _served_blocks

    failures: list[str] = []
    count = 0

    def on_error(height: int, message: str) -> None:
        failures.append(message)

    for block, envelopes in _served_blocks(client, tip, on_error, start=from_height + 1):
        statuses = block.get("documents", [])
        if len(statuses) != len(envelopes):
            raise InvalidInput("block", f"block {block.get('height')} lists {len(statuses)} documents but "
                                        f"{len(envelopes)} envelopes were served")
        time_ms = block["header_fields"]["timestamp"]
        for status, data in zip(statuses, envelopes):
            if status.get("status") != "accepted":
                continue
            envelope = Envelope.from_bytes(data)
            if envelope.doc_id != status.get("doc_id"):
                raise InvalidInput("block", f"block {block['height']}: an envelope hashes to {envelope.doc_id}, "
                                            f"the block lists {status.get('doc_id')}")
            obj = envelope.to_obj()
            if rows.wants(obj["doc"]):
                rows.add(obj["doc"], obj["sigs"], doc_id=envelope.doc_id, leaf_index=status["leaf_index"],
                         height=block["height"], block_time=time_ms)
                count += 1
        advance(1)
    if failures:
        from . import errors as api_errors

        raise api_errors.ConnectionFailed(getattr(client, "base_url", "the node"), failures[0])
    return count


# -- monthly figures ----------------------------------------------------------------------------


def flatten_figures(obj: dict, prefix: str = "") -> dict[str, Any]:
    """Nested figures as flat columns: ``{"meetings": {"held": 3}}`` -> ``{"meetings_held": 3}``."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten_figures(value, name))
        elif isinstance(value, list):
            continue  # lists of units (overdue) are not monthly figures
        else:
            out[name] = value
    return out


def export_monthly(client: Any, root: str, out: Path, fmt: str, tz: Any, *, since: str | None, until: str | None,
                   depth: int | None = None, advance: Callable[[int], None] = lambda n: None) -> dict:
    """One stats query (``by=month``) per unit of the subtree of `root`, down to `depth` levels;
    one row per (unit, month). Returns the table's entry for export.json."""
    rows: list[tuple[str, str, str, int, dict]] = []
    queue: list[tuple[str, int]] = [(root, 0)]
    while queue:
        path, level = queue.pop(0)
        answer = client.stats(path, since=since, until=until, by="month")
        for month in answer.get("series", []):
            rows.append((path, answer.get("name") or "", answer.get("kind") or "", level, month))
        advance(1)
        if depth is None or level < depth:
            queue.extend((c["path"], level + 1) for c in answer.get("children", []) if not c.get("own"))
    flat_rows = [flatten_figures({k: v for k, v in month.items() if k != "month"}) for *_, month in rows]
    figures: dict[str, str | None] = {}
    for flat in flat_rows:
        for k, v in flat.items():
            kind, old = _value_kind(v), figures.get(k)
            if old is None or (old == "int" and kind == "float"):
                figures[k] = kind
    columns = (("unit", "str"), ("name", "str"), ("kind", "str"), ("depth", "int"), ("month", "str"),
               *((k, kind or "str") for k, kind in figures.items()))
    writer = _MonthlyWriter(TableSpec("monthly", columns), out / f"monthly.{fmt}", fmt, tz)
    for (unit, name, kind, level, month), flat in zip(rows, flat_rows):
        writer.add([unit, name, kind, level, month["month"], *(flat.get(k) for k in figures)])
    writer.close()
    return {"file": writer.path.name, "rows": writer.rows}


def _value_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    return "int" if isinstance(value, int) else "float" if isinstance(value, float) else "str"


class _MonthlyWriter(TableWriter):
    """Figures may be ratios (floats): a float64 column in Parquet."""

    def _arrow_schema(self) -> Any:
        import pyarrow as pa

        types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
        return pa.schema([(name, types[kind]) for name, kind in self.spec.columns])
