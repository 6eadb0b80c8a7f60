"""Cursor pages over a view's keys: every list the API serves is one of these.

A page is the keys under a prefix whose suffix lies in ``[low, high]``, in
key order (or reversed), after an opaque **cursor** (base64url of the last
suffix served), at most ``limit`` items; ``next_cursor`` is null when the
range is exhausted. A page scans at most ``max_scan`` keys (a filter that
keeps few of them still answers promptly, with a cursor to go on from).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ledger.errors import InvalidInput
from ledger.jsonfmt import b64e

from .projection import decode

__all__ = ["Page", "page", "page_of", "cursor_after", "MAX_LIMIT", "DEFAULT_LIMIT", "check_limit"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Page:
    items: list[tuple[bytes, Any]]  # (suffix, decoded value)
    next_cursor: str | None


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"expected an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def _cursor_bytes(cursor: str, width: int | None) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if not raw or (width is not None and len(raw) != width):
        raise InvalidInput("cursor", "not a cursor this list gave (use next_cursor from the previous page)")
    return raw


def cursor_after(cursor: str | None, width: int | None) -> bytes | None:
    """The suffix a cursor stands for (the last one served), None for the first page."""
    return None if cursor is None else _cursor_bytes(cursor, width)


def page_of(items: Iterable[tuple[bytes, Any]], *, after: bytes | None, limit: int = DEFAULT_LIMIT,
            keep: Callable[[bytes, Any], bool] | None = None, max_scan: int = 5_000) -> Page:
    """One page of `items` ((suffix, decoded value), in suffix order, none at or before `after`),
    as :func:`page` makes one: for lists merged from several key ranges."""
    items_out: list[tuple[bytes, Any]] = []
    scanned = 0
    last = None
    for suffix, obj in items:
        if len(items_out) == limit or scanned == max_scan:
            return Page(items_out, b64e(last))
        scanned += 1
        last = suffix
        if keep is None or keep(suffix, obj):
            items_out.append((suffix, obj))
    return Page(items_out, None)


def page(r, prefix: bytes, *, width: int | None, low: bytes = b"", high: bytes | None = None, cursor: str | None = None,
         limit: int = DEFAULT_LIMIT, reverse: bool = False, keep: Callable[[bytes, Any], bool] | None = None,
         max_scan: int = 5_000) -> Page:
    """One page (module docstring); suffixes are `width` bytes long (None: any length; then
    only forward pages). `keep(suffix, value)` drops items (they still count as scanned)."""
    after = None if cursor is None else _cursor_bytes(cursor, width)
    if reverse:
        start = prefix + (high if high is not None else b"\xff" * (width or 1))
        if after is not None and after < start[len(prefix):]:
            start = prefix + after
    else:
        start = prefix + low
        if after is not None and after >= low:
            start = prefix + after + b"\x00"
    items: list[tuple[bytes, Any]] = []
    scanned = 0
    last = None
    for key, value in r.scan(prefix, start=start, reverse=reverse):
        suffix = key[len(prefix):]
        if suffix == after:
            continue
        if (reverse and suffix < low) or (not reverse and high is not None and suffix > high):
            return Page(items, None)
        if len(items) == limit or scanned == max_scan:
            return Page(items, b64e(last))
        scanned += 1
        last = suffix
        obj = decode(value) if value else None
        if keep is None or keep(suffix, obj):
            items.append((suffix, obj))
    return Page(items, None)
