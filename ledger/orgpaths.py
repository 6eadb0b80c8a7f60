"""Org unit paths and the hierarchy they spell.

A unit's path is its ancestors' segments and its own, joined by ``/``
(``central/p1/k1/s1``); the root is the one path without ``/``. So where a
unit sits needs no lookup: its parent, its ancestors and whether it lies in
another unit's subtree follow from the strings alone. The registry's rules
("X in U+": a role held in U or in an ancestor of U) and the read models'
roll-ups both rest on these few functions.
"""

from __future__ import annotations

__all__ = ["ancestors", "parent_path", "is_under", "is_strictly_under"]


def ancestors(path: str) -> list[str]:
    """`path` and every unit above it, nearest first."""
    out = [path]
    while "/" in path:
        path = path.rpartition("/")[0]
        out.append(path)
    return out


def parent_path(path: str) -> str | None:
    """The unit directly above `path`; None for the root."""
    return path.rpartition("/")[0] if "/" in path else None


def is_under(path: str, top: str) -> bool:
    """Whether `path` is `top` or lies in its subtree."""
    return path == top or path.startswith(top + "/")


def is_strictly_under(path: str, top: str) -> bool:
    """Whether `path` lies in the subtree of `top`, `top` itself excluded."""
    return path.startswith(top + "/")
