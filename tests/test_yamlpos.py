"""The two YAML readers: the fast one must give PyYAML's values or decline (None)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgpath.policy import PolicyError, parse_policy_file
from pgpath.render import dump_yaml
from pgpath.yamlpos import YamlProblem, fast_load, load_yaml

# Words PyYAML resolves to other types, words that look like them, names with dots, dashes,
# dollars and digits, quoted forms of all of these, and a few things outside the subset.
WORDS = ["app", "public", "$user", "r00001", "a.b", "x-y", "_u", "yes", "No", "ON", "off",
         "true", "False", "null", "Null", "NULL", "y", "n", "1", "0", "01", "1_0", "0x1f",
         "1.5", "1e3", "2024-01-01", "12:30", "1abc", "é", "~", "-", ".inf", "<<", "=",
         "a b", "a  b", "it's", 'a"b', "a:b", "a#b", "a,b", "a]", "&x", "*x", "!x", "%x",
         "@x", "`x", "|", ">", "?x", "\u00a0x", "x\u00a0", "x\u3000y", "١٢"]
SCALARS = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(lambda w: "'" + w.replace("'", "''") + "'"),
    st.sampled_from(WORDS).map(lambda w: f'"{w}"'),
    st.sampled_from(["'it''s'", "''", '""', "'a, b'", '"a, b"', "'#'", '"]"', "'['",
                     '"a\\tb"', "'x' y", '"x"y']),
)
FLOWS = st.lists(SCALARS, max_size=4).flatmap(lambda items: st.sampled_from([
    "[" + ", ".join(items) + "]",
    "[ " + " ,".join(items) + " ]",
    "[" + ",".join(items) + ("," if items else "") + "]",
    "[" + ", ".join(items),  # unterminated
]))
VALUES = st.one_of(st.just(""), SCALARS, FLOWS)
COMMENTS = st.sampled_from(["", "", " # note", " #: x", "# glued", "  # [a, b]"])
LINES = st.one_of(
    st.tuples(st.sampled_from([0, 0, 2, 2, 4, 1, 3]), SCALARS, VALUES, COMMENTS).map(
        lambda t: " " * t[0] + t[1] + ":" + (" " + t[2] if t[2] else "") + t[3]),
    st.sampled_from(["", "   ", "# comment", "  # indented comment", "- item", "  - item",
                     "---", "...", "\tkey: x", "key:\tx", "key: x\r", "key: 'a\nb'",
                     "%YAML 1.1", "? key", "key: |", "key: >", "key: &a [x]", "key: *a",
                     "key: !!str 1", "key: {a: b}", "key: [a,\n  b]", "key: x\u0085y",
                     "key: x\x07", "\ufeffkey: x", "key:x", "key :x", "key: x y"]),
)


def positioned_to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: positioned_to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [positioned_to_plain(v) for v in value]
    return value


def pyyaml(text: str) -> Any:
    try:
        return positioned_to_plain(load_yaml(text))
    except YamlProblem:
        return YamlProblem


@settings(max_examples=600, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=8).map("\n".join))
@example("version: 1\nroles:\n  app: [$user, app]\n  'yes': ['no']\n")
@example("a:\n  b:\n    c: [x]\n  d: y\ne: z\n")
@example("a:\nb: [x]\n")
@example("a: [x] # c\n# c\n  \n")
def test_fast_reader_agrees_with_pyyaml_or_declines(text: str) -> None:
    for variant in (text, text.replace("\n", "\r\n")):  # also as saved on Windows
        fast = fast_load(variant)
        if fast is not None:
            assert fast == pyyaml(variant), variant


@pytest.mark.parametrize("text", [
    "a: yes\n", "a: [1.5]\n", "a: 01\n", "1: x\n", "a: x\na: y\n", "a:\n  - x\n",
    "a: [x,\n  y]\n", "a: 'x\n  y'\n", "\ta: x\n", "a: x\ry\n", "a: &r [x]\nb: *r\n",
    "  a: x\n", "a: b\n  c: d\n", "a: \"x\\ty\"\n", "", "# nothing\n", "---\na: x\n",
])
def test_fast_reader_declines_what_it_does_not_read_exactly(text: str) -> None:
    assert fast_load(text) is None


def test_fast_reader_reads_what_export_writes() -> None:
    doc = {"version": 1, "unmanaged": "keep", "all_roles": ["$user", "public"],
           "databases": {"appdb": ["app", "public"], "legacy": None, "archive": []},
           "roles": {"app": ["$user", "app", "public"], "yes": ["no", "null", "1"],
                     "reporting": {"search_path": ["a, b", "it's", "Mixed Case"],
                                   "databases": {"appdb": ["reporting", "app"]}}}}
    text = dump_yaml(doc)
    assert fast_load(text) == doc == yaml.safe_load(text)
    unusual = {"version": 1, "roles": {"Mixed Role": ["é", 'a"b', "ünïcode name"]}}
    assert fast_load(dump_yaml(unusual)) == unusual


def test_problems_found_on_the_fast_path_get_positions() -> None:
    # Valid YAML in the simple subset, an invalid policy: the message still points at the line.
    text = "version: 1\nroles:\n  app: [ok, '']\n"
    assert fast_load(text) is not None
    with pytest.raises(PolicyError) as err:
        parse_policy_file(text, "p.yaml")
    assert str(err.value).startswith("p.yaml:3:13: ")
