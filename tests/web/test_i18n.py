"""The pages' labels: every one from the catalogues (web/i18n/vi.json, en.json),
both catalogues with the same keys, every key the pages ask for present, and
no label written into the HTML or the scripts instead (as far as reading the
source can tell: a browser test switches the language and sees the labels change).

Keys the scripts build from data (``type.<doc type>``, ``change.<change>``, ``warning_kind.<kind>``,
``check.<check>``...) are checked against the Python definitions they mirror,
so a new document type or check without its labels fails here."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from client.verify import CHECKS
from ledger.documents import DOC_TYPES
from ledger.registry import ACTIVE, TERMINAL
from ledger.schemas import (AMENDMENT_ACTIONS, MEETING_KINDS, MEETING_MODES, MEMBER_CHANGES, MEMBER_STATUSES, POLL_ELIGIBLE,
                            PROFILE_KINDS, ROLES, SEVERITIES, TASK_STATUSES)
from node.routes.committee import TASK_STATES
from node.routes.web import LANGUAGES, WEB_ROOT
from views.warnings import KINDS as WARNING_KINDS

JS = sorted((WEB_ROOT / "js").rglob("*.js"))
HTML = sorted(WEB_ROOT.glob("*.html"))
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(lang: str) -> dict:
    return json.loads((WEB_ROOT / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


CATALOGUES = {lang: catalogue(lang) for lang in LANGUAGES}


def _strip_comments(source: str) -> str:
    """JavaScript without // and /* */ comments (string contents kept; good enough for our sources,
    which put no // inside strings other than URLs, checked below)."""
    out, i, n = [], 0, len(source)
    quote = None
    while i < n:
        c = source[i]
        if quote:
            out.append(c)
            if c == "\\":
                out.append(source[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
            out.append(c)
        elif source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
            continue
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


# Calls whose string arguments are for developers, not readers: errors, the console.
_DEVELOPER_CALLS = re.compile(r"(?:Error|console\.\w+|super)\(")


def _in_developer_call(code: str, at: int) -> bool:
    """Whether position `at` lies inside the parentheses of an Error(...), console.x(...) or super(...) call."""
    for m in _DEVELOPER_CALLS.finditer(code, max(0, at - 400), at):
        between = code[m.end():at]
        if between.count("(") >= between.count(")"):
            return True
    return False


def _literals(path: Path) -> list[tuple[int, str, str, str]]:
    """(line, literal, the code before it on its line, the original line) for each string literal, but those
    passed to a call for developers (an Error's message, the console)."""
    original = path.read_text(encoding="utf-8").splitlines()
    code = _strip_comments(path.read_text(encoding="utf-8"))
    out = []
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\]|\\.)*)`|\'((?:[^\'\\\n]|\\.)*)\'', code):
        if _in_developer_call(code, m.start()):
            continue
        if re.search(r"[{,]\s*$", code[:m.start()]) and code[m.end():].lstrip().startswith(":"):
            continue  # an object's key ({"Content-Type": ...}), not text
        text = next(g for g in m.groups() if g is not None)
        line = code.count("\n", 0, m.start()) + 1
        before = code[code.rfind("\n", 0, m.start()) + 1:m.start()]
        out.append((line, text, before, original[line - 1] if line <= len(original) else ""))
    return out


def asked_keys() -> dict[str, str]:
    """Catalogue keys the pages name literally: data-i18n attributes, t("…"), has("…") and the
    two keys of t(cond ? "a" : "b"); key -> where."""
    keys = {}
    for html in HTML:
        for m in re.finditer(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html.read_text(encoding="utf-8")):
            keys[m.group(1)] = html.name
    for js in JS:
        code = _strip_comments(js.read_text(encoding="utf-8"))
        for m in re.finditer(r'\b(?:t|has)\(\s*"([a-z0-9_.]+)"', code):
            keys[m.group(1)] = js.name
        for m in re.finditer(r'\bt\([^()"]*\?\s*"([a-z0-9_.]+)"\s*:\s*"([a-z0-9_.]+)"', code):
            keys[m.group(1)] = keys[m.group(2)] = js.name
    return keys


def test_both_catalogues_have_the_same_keys():
    vi, en = CATALOGUES["vi"], CATALOGUES["en"]
    assert sorted(set(vi) - set(en)) == [], "in vi.json only"
    assert sorted(set(en) - set(vi)) == [], "in en.json only"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_values_are_labels_with_the_same_placeholders(lang):
    other = CATALOGUES["en" if lang == "vi" else "vi"]
    for key, value in CATALOGUES[lang].items():
        forms = value.values() if isinstance(value, dict) else [value]
        assert all(isinstance(f, str) and f.strip() for f in forms), key
        if isinstance(value, dict):
            assert "other" in value, f"{key}: a plural label needs its 'other' form"
        mine = {p for f in forms for p in PLACEHOLDER.findall(f)}
        theirs = {p for f in (other[key].values() if isinstance(other[key], dict) else [other[key]])
                  for p in PLACEHOLDER.findall(f)}
        assert mine == theirs, f"{key}: placeholders {mine} in {lang}, {theirs} in the other"


def test_every_key_the_pages_ask_for_is_in_the_catalogue():
    missing = {key: where for key, where in asked_keys().items() if key not in CATALOGUES["vi"]}
    assert missing == {}


@pytest.mark.parametrize("prefix, values", [
    ("type", DOC_TYPES), ("change", MEMBER_CHANGES), ("meeting_kind", MEETING_KINDS), ("meeting_mode", MEETING_MODES),
    ("severity", SEVERITIES), ("role", ROLES), ("check", CHECKS), ("status", ("accepted", "rejected")),
    ("member_status_value", tuple(sorted(ACTIVE | TERMINAL | {"suspended"} | set(MEMBER_STATUSES)))),
    ("profile_kind", PROFILE_KINDS), ("task_status", ("not_started", *TASK_STATUSES)), ("task_state", TASK_STATES),
    ("warning_kind", WARNING_KINDS), ("amendment_action", AMENDMENT_ACTIONS),
    ("poll_eligible", POLL_ELIGIBLE), ("version", ("original", *AMENDMENT_ACTIONS)),
    ("role_raft", ("leader", "follower", "candidate", "pre_candidate")),
    ("receipt.status", ("pass", "fail", "skipped", "na")),
])
def test_labels_for_every_value_the_ledger_defines(prefix, values):
    missing = [v for v in values if f"{prefix}.{v}" not in CATALOGUES["vi"]]
    assert missing == []


def test_every_check_says_what_it_proves_and_every_rule_has_a_message():
    vi = CATALOGUES["vi"]
    assert [c for c in CHECKS if f"check.{c}.what" not in vi] == []
    receipt = (WEB_ROOT / "js" / "receipt.js").read_text(encoding="utf-8")
    rules = set(re.findall(r'new CheckFailed\("([a-z_]+)", "([a-z_]+)"', receipt))
    rules |= {("envelope", r) for r in re.findall(r'\bfail\("([a-z_]+)", ', receipt[receipt.index("function envelopeOf"):])}
    rules |= {("genesis", r) for r in re.findall(r'throw fail\("([a-z_]+)"', receipt[receipt.index("function genesisVoters"):
                                                                            receipt.index("function envelopeOf")])}
    rules |= {("inclusion", r) for r in re.findall(r'new InclusionFailed\("([a-z_]+)"',
                                                    (WEB_ROOT / "js" / "merkle.js").read_text(encoding="utf-8"))}
    assert len(rules) > 30
    missing = sorted(f"fail.{c}.{r}" for c, r in rules if f"fail.{c}.{r}" not in vi and c != "shape")
    assert missing == []
    shapes = set(re.findall(r'\bshape\("([a-z_]+)"', receipt)) | {"expected_b64", "expected_length", "expected_hex"}
    assert sorted(s for s in shapes if f"shape.{s}" not in vi) == []
    canonical = set(re.findall(r'new NotCanonical\([^,]+, "([a-z_]+)"', (WEB_ROOT / "js" / "canonical.js").read_text()))
    assert len(canonical) > 10 and sorted(r for r in canonical if f"canonical.{r}" not in vi) == []


class _Text(HTMLParser):
    """Text nodes of an HTML file outside <title>, <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("title", "script", "style"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("title", "script", "style"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.text.append(data.strip())


@pytest.mark.parametrize("html", HTML, ids=lambda p: p.name)
def test_no_label_is_written_into_the_html(html):
    parser = _Text()
    parser.feed(html.read_text(encoding="utf-8"))
    assert parser.text == []


# Where a string with words in it is no label: class names, CSS selectors, messages for developers.
_NOT_A_LABEL = re.compile(r"(class:\s*(\[[^\]]*)?|querySelector(All)?\(|console\.\w+\(|Error\(|super\(|"
                          r"\.name\s*[!=]==\s*|\"use strict)\s*$")


@pytest.mark.parametrize("js", JS, ids=lambda p: p.relative_to(WEB_ROOT).as_posix())
def test_no_label_is_written_into_the_scripts(js):
    """A literal with two words in it, or a capitalised word (not an identifier such as BaseLayout or
    Asia/Ho_Chi_Minh), is a label unless it sits where labels never do; a line that must say
    something literal (a command to type) says so with i18n-exempt."""
    flagged = []
    for line, text, before, original in _literals(js):
        words = re.search(r"[^\W\d_]{2,} +[^\W\d_]{2,}", text) or re.fullmatch(r"[A-ZÀ-Ỹ][a-zà-ỹ]{2,}[a-zà-ỹ\s.,:!?…-]*", text)
        if words and not _NOT_A_LABEL.search(before) and "i18n-exempt" not in original and text != "use strict":
            flagged.append(f"{js.name}:{line}: {text[:60]!r}")
    assert flagged == []


def _dynamic_prefixes() -> set[str]:
    """Prefixes of keys the scripts build from data: `type.${x}`, `fail.${check}.${rule}`, choice("role", x),
    label(name) (field.*), and keys built from another key (`${key}.title`, errors)."""
    prefixes = {"field.", "error."}
    for js in JS:
        code = _strip_comments(js.read_text(encoding="utf-8"))
        prefixes |= set(re.findall(r'`([a-z][a-z0-9_.]*[._])\$\{', code))
        prefixes |= {g + "." for g in re.findall(r'\bchoice\("([a-z_]+)"', code)}
    return prefixes


def test_every_label_in_the_catalogue_is_used():
    prefixes = _dynamic_prefixes()
    asked = set(asked_keys()) | {text for js in JS for _, text, _, _ in _literals(js)}
    unused = sorted(k for k in CATALOGUES["vi"] if k not in asked and not k.startswith(tuple(prefixes))
                    and k != "meta.locale")
    assert unused == []
