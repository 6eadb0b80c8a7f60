"""`minutebook init` and `minutebook devnet up | down` (being written)."""

from __future__ import annotations

COMMANDS: list = []
