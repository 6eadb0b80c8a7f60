"""Fixtures of the view tests: each module builds its own `world` (tests/views/world.py);
`expected` counts its documents independently (tests/views/expected.py)."""

from __future__ import annotations

import pytest

from .expected import Expected


@pytest.fixture(scope="module")
def expected(world):
    return Expected(world.org.genesis, world.accepted())
