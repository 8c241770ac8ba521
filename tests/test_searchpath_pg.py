"""The search_path value against PostgreSQL itself: what it stores, how it reads text."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgpath.searchpath import SearchPath, truncate_name
from tests.conftest import Pg
from tests.strategies import exact_names, paths, schema_names

pytestmark = pytest.mark.pg
PG_SETTINGS = settings(max_examples=150, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def conn(pg: Pg):
    with psycopg.connect(pg.dsn()) as c:
        yield c


@PG_SETTINGS
@given(st.lists(schema_names, min_size=1, max_size=5))
def test_stored_text_matches_our_rendering(conn: psycopg.Connection, names: list[str]) -> None:
    """SET with one identifier per element stores exactly to_text(); parsing it back gives
    the (truncated) names."""
    path = SearchPath(tuple(names))
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL search_path = {}").format(path.to_sql()))
        stored = conn.execute("SHOW search_path").fetchone()[0]
    version = conn.info.server_version
    assert stored == path.truncated().to_text(version)
    assert SearchPath.parse(stored) == path.truncated()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths)
def test_role_setting_round_trips(pg: Pg, names: list[str]) -> None:
    """ALTER ROLE ... SET stores the same text in pg_db_role_setting."""
    role = pg.name("rt")
    path = SearchPath(tuple(names))
    with psycopg.connect(pg.dsn()) as conn, conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("ALTER ROLE {} SET search_path = {}").format(
            sql.Identifier(role), path.to_sql()))
        (config,) = conn.execute(
            "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname = %s", [role]).fetchone()
        version = conn.info.server_version
    assert config == [f"search_path={path.to_text(version)}"]


def _messy(names: list[str], rnd) -> str:
    """Text a person might write for these names: bare words upper-cased, odd spacing."""
    parts = []
    for name in names:
        quoted = SearchPath.of(name).to_text()
        if quoted == name and rnd.random() < 0.5:
            quoted = name.upper()
        parts.append(rnd.choice(["", " ", "\t", "\n "]) + quoted + rnd.choice(["", "  "]))
    return ",".join(parts)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(exact_names, min_size=1, max_size=4, unique=True), st.randoms())
def test_parse_agrees_with_postgresql(conn: psycopg.Connection, names: list[str], rnd) -> None:
    """Our parse of hand-written text names the same schemas PostgreSQL searches."""
    text = _messy(names, rnd)
    parsed = SearchPath.parse(text)
    with conn.transaction(force_rollback=True):
        for name in parsed:
            if name not in ("$user", "public", "pg_catalog"):
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(name)))
        conn.execute("SELECT set_config('search_path', %s, true)", [text])
        searched = conn.execute("SELECT current_schemas(false)::text[]").fetchone()[0]
    expected = []
    for name in parsed:
        if name != "$user" and name not in expected:
            expected.append(name)
    assert searched == expected


def test_empty_path_is_stored_as_two_quotes(conn: psycopg.Connection) -> None:
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL search_path = {}").format(SearchPath(()).to_sql()))
        assert conn.execute("SHOW search_path").fetchone()[0] == '""'
        assert conn.execute("SELECT current_schemas(false)::text[]").fetchone()[0] == []


def test_whole_list_in_one_literal_is_one_schema(conn: psycopg.Connection) -> None:
    """The bug pgpath exists to avoid: 'app, public' as one literal is one name."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL search_path = 'app, public'")
        stored = conn.execute("SHOW search_path").fetchone()[0]
    assert SearchPath.parse(stored).schemas == ("app, public",)


def test_long_names_are_truncated_like_postgresql(conn: psycopg.Connection) -> None:
    long = "é" * 40
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL search_path = {}").format(SearchPath.of(long).to_sql()))
        stored = conn.execute("SHOW search_path").fetchone()[0]
    assert SearchPath.parse(stored).schemas == (truncate_name(long),)
