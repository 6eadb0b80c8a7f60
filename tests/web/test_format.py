"""One formatting rule for the CLI and the pages (issue 7 fault 5: the CLI showed 91.2% and the
web 91.3% for the same ratio): web/js/i18n.js formats every pair of counts with the digits of
client/display.py, in English exactly, in Vietnamese with a decimal comma."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.display import percent, ratio


pytestmark = [pytest.mark.browser, pytest.mark.slow]

FORMAT_JS = """async ([lang, pairs]) => {
  const i18n = await import('/web/js/i18n.js');
  await i18n.setLanguage(lang);
  return pairs.map(([n, d]) => [i18n.formatPercent(n, d), i18n.formatRatio(n, d)]);
}"""


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), min_size=1, max_size=200))
def test_the_pages_format_every_pair_as_the_cli_does(module_page, pairs):
    pairs = [(min(n, d), d) if d else (n, d) for n, d in pairs] + [(73, 80), (1, 8), (5, 3), (0, 0), (1, 2000), (7, 1)]
    expected = [[percent(n, d), ratio(n, d)] for n, d in pairs]
    assert module_page.evaluate(FORMAT_JS, ["en", pairs]) == expected
    assert module_page.evaluate(FORMAT_JS, ["vi", pairs]) == [[p.replace(".", ","), r.replace(".", ",")]
                                                             for p, r in expected]
