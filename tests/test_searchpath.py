"""The search_path value, offline: PostgreSQL's parsing and quoting rules."""

from __future__ import annotations

import pytest
from hypothesis import given

from pgpath.searchpath import (
    SearchPath,
    SearchPathSyntaxError,
    as_search_path,
    quote_identifier,
    truncate_name,
)
from tests.strategies import paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"$user", public', ("$user", "public")),
        ("pg_catalog,public", ("pg_catalog", "public")),
        ("  App ,  Public  ", ("app", "public")),
        ('"Mixed Case", "with,comma"', ("Mixed Case", "with,comma")),
        ('"q""uote"', ('q"uote',)),
        ('"app, public"', ("app, public",)),
        ("ÉCOLE", ("École",)),  # only ASCII letters fold
        ('""', ()),
        ("", ()),
        ("   ", ()),
        ('"", app', ("", "app")),
        ("\tapp\n,\fpublic\v", ("app", "public")),
        ('"a=b"', ("a=b",)),
    ],
)
def test_parse(text: str, expected: tuple[str, ...]) -> None:
    assert SearchPath.parse(text).schemas == expected


@pytest.mark.parametrize("text", ["a,,b", "a,", ",a", '"open', '"a"b', "a b"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(SearchPathSyntaxError):
        SearchPath.parse(text)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("public", "public"),
        ("$user", '"$user"'),
        ("user", '"user"'),
        ("select", '"select"'),
        ("name", "name"),  # unreserved keyword: left bare
        ("int", '"int"'),  # column-name keyword
        ("left", '"left"'),  # type/function-name keyword
        ("App", '"App"'),
        ("1abc", '"1abc"'),
        ("_x1", "_x1"),
        ("é", '"é"'),
        ('q"uote', '"q""uote"'),
        ("", '""'),
    ],
)
def test_quote_identifier(name: str, quoted: str) -> None:
    assert quote_identifier(name) == quoted


def test_keywords_follow_the_server_version() -> None:
    assert quote_identifier("system_user", 150004) == "system_user"
    assert quote_identifier("system_user", 160000) == '"system_user"'
    assert quote_identifier("json_table", 16) == "json_table"
    assert quote_identifier("json_table", 17) == '"json_table"'


def test_to_text_and_sql() -> None:
    path = SearchPath.of("$user", "app", "Mixed Case", "app, public")
    assert path.to_text() == '"$user", app, "Mixed Case", "app, public"'
    assert path.to_sql().as_string(None) == '"$user", "app", "Mixed Case", "app, public"'


def test_empty_path() -> None:
    empty = SearchPath(())
    assert empty.is_empty
    assert empty.to_text() == '""'
    assert empty.to_sql().as_string(None) == "''"
    assert SearchPath.parse('""') == empty
    assert SearchPath.of("") == empty


def test_truncation_keeps_whole_characters() -> None:
    assert truncate_name("a" * 70) == "a" * 63
    assert truncate_name("é" * 40) == "é" * 31  # 62 bytes: a 32nd would need 64
    assert SearchPath.parse('"' + "b" * 64 + '"').schemas == ("b" * 63,)
    assert SearchPath.of("c" * 64).truncated().schemas == ("c" * 63,)


def test_as_search_path() -> None:
    assert as_search_path("app, Public") == SearchPath.of("app", "public")
    assert as_search_path(["App"]) == SearchPath.of("App")


@given(paths)
def test_text_round_trip(names: list[str]) -> None:
    path = SearchPath(tuple(names))
    assert SearchPath.parse(path.to_text()) == path
