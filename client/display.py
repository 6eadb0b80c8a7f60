"""How figures are shown to people: one rule, for the CLI and the pages.

The API gives raw counts and raw ratios; a person reads a **percentage with
one decimal** or a **ratio with two decimals**, rounded half up, computed
from the two integer counts (never from a float already rounded elsewhere,
which is how the CLI and the web once showed 91.2% and 91.3% for the same
73 / 80). With q = floor((2000 * num + den) / (2 * den)) the percentage is
``q // 10 "." q % 10 "%"``; with q = floor((200 * num + den) / (2 * den))
the ratio is ``q // 100 "." (q % 100, two digits)``. Nothing to divide by
(den = 0) shows as an en dash. The web pages' ``formatPercent`` and
``formatRatio`` (web/js/i18n.js) are the same arithmetic in JavaScript, with the
locale's decimal sign, and tests/web/test_format.py runs both over the same pairs.
"""

from __future__ import annotations

__all__ = ["percent", "ratio", "NONE"]

NONE = "\u2013"  # en dash: nothing to divide by


def _half_up(num: int, den: int, scale: int) -> int:
    return (2 * scale * num + den) // (2 * den)


def percent(num: int, den: int) -> str:
    """``91.3%`` for 73 / 80; ``–`` when den is 0."""
    if not den:
        return NONE
    q = _half_up(num, den, 1000)
    return f"{q // 10}.{q % 10}%"


def ratio(num: int, den: int) -> str:
    """``1.67`` for 5 / 3; ``–`` when den is 0."""
    if not den:
        return NONE
    q = _half_up(num, den, 100)
    return f"{q // 100}.{q % 100:02d}"
