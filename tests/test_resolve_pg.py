"""The resolver proven against PostgreSQL: for random settings at all four levels, what
`resolve` says equals what a real new session of that role in that database gets."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgpath.connection import connect
from pgpath.model import Level
from pgpath.reads import resolve_all, resolve_one
from pgpath.searchpath import SearchPath
from tests.conftest import Pg

pytestmark = pytest.mark.pg

CANDIDATES = [
    ["$user", "public"], ["s_a"], ["s_b", "s_a"], ["missing", "s_a", "public"], [],
    ["Mixed Case", "$user"], ["pg_catalog", "s_b"], ["s_a", "pg_temp", "s_a"],
]
maybe_path = st.one_of(st.none(), st.sampled_from(CANDIDATES))


@pytest.fixture
def world(pg: Pg):
    """Three login roles, two databases, schemas with different privileges in each."""
    roles = [pg.role("r1"), pg.role("r2"), pg.role("r3")]
    dbs = [pg.database("d1"), pg.database("d2")]
    for i, db in enumerate(dbs):
        for schema in ("s_a", "s_b", "Mixed Case"):
            pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)), dbname=db)
        pg.execute(sql.SQL("GRANT USAGE ON SCHEMA s_a, {} TO PUBLIC").format(
            sql.Identifier("Mixed Case")), dbname=db)
        pg.execute(sql.SQL("GRANT USAGE ON SCHEMA s_b TO {}").format(
            sql.Identifier(roles[1])), dbname=db)
        # r1 has its own schema in d1 only, so "$user" resolves in one database only.
        if i == 0:
            pg.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(roles[0]), sql.Identifier(roles[0])), dbname=db)
    return roles, dbs


def _apply(pg: Pg, scope_sql: sql.Composable, path: list[str] | None) -> None:
    if path is None:
        pg.execute(sql.SQL("ALTER {} RESET search_path").format(scope_sql))
    else:
        pg.execute(sql.SQL("ALTER {} SET search_path = {}").format(
            scope_sql, SearchPath(tuple(path)).to_sql()))


def _session(pg: Pg, role: str, db: str) -> tuple[str, list[str]]:
    with psycopg.connect(pg.dsn(db, user=role)) as conn:
        raw = conn.execute("SHOW search_path").fetchone()[0]
        effective = conn.execute("SELECT current_schemas(true)::text[]").fetchone()[0]
    return raw, effective


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_resolve_equals_a_real_session(pg: Pg, world, data) -> None:
    roles, dbs = world
    ident = sql.Identifier
    for role in roles:
        for db in dbs:
            _apply(pg, sql.SQL("ROLE {} IN DATABASE {}").format(ident(role), ident(db)),
                   data.draw(maybe_path, label=f"{role} in {db}"))
        _apply(pg, sql.SQL("ROLE {}").format(ident(role)), data.draw(maybe_path, label=role))
    for db in dbs:
        _apply(pg, sql.SQL("DATABASE {}").format(ident(db)), data.draw(maybe_path, label=db))
    _apply(pg, sql.SQL("ROLE ALL"), data.draw(maybe_path, label="all roles"))

    with connect(pg.dsn()) as conn:
        results = {(r.role, r.database): r for r in resolve_all(conn, pg.dsn())}
    for role in roles:
        for db in dbs:
            raw, effective = _session(pg, role, db)
            got = results[(role, db)]
            assert got.search_path == SearchPath.parse(raw), (role, db)
            assert list(got.effective) == effective, (role, db)


def test_resolve_one_names_each_layer(pg: Pg, world) -> None:
    roles, dbs = world
    role, db = roles[0], dbs[0]
    pg.execute(sql.SQL("ALTER ROLE {} SET search_path = s_b").format(sql.Identifier(role)))
    pg.execute(sql.SQL("ALTER DATABASE {} SET search_path = s_a").format(sql.Identifier(db)))
    with connect(pg.dsn()) as conn:
        result = resolve_one(conn, pg.dsn(), role, db)
    assert result.source is Level.ROLE
    assert [layer.level for layer in result.layers] == list(Level)
    assert [layer.wins for layer in result.layers] == [False, True, False, False, False]
    assert result.search_path == SearchPath.of("s_b")
    # r1 has no USAGE on s_b: the session searches nothing but pg_catalog.
    assert result.effective == ("pg_catalog",)
    entry = next(e for e in result.entries if e.element == "s_b")
    assert entry.exists and not entry.usage and not entry.searched
    assert _session(pg, role, db)[1] == ["pg_catalog"]


def test_user_expands_only_where_the_schema_exists(pg: Pg, world) -> None:
    roles, dbs = world
    with connect(pg.dsn()) as conn:
        in_d1 = resolve_one(conn, pg.dsn(), roles[0], dbs[0])
        in_d2 = resolve_one(conn, pg.dsn(), roles[0], dbs[1])
    user_d1 = next(e for e in in_d1.entries if e.element == "$user")
    user_d2 = next(e for e in in_d2.entries if e.element == "$user")
    assert user_d1.schema == roles[0] and user_d1.searched
    assert user_d2.schema is None and not user_d2.searched
    assert in_d1.effective == ("pg_catalog", roles[0], "public")
    assert in_d2.effective == ("pg_catalog", "public")


def test_settings_are_not_inherited_through_membership(pg: Pg, world) -> None:
    roles, dbs = world
    group = pg.role("grp", login=False)
    pg.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(roles[2])))
    pg.execute(sql.SQL("ALTER ROLE {} SET search_path = s_a").format(sql.Identifier(group)))
    with connect(pg.dsn()) as conn:
        member = resolve_one(conn, pg.dsn(), roles[2], dbs[0])
        grp = resolve_one(conn, pg.dsn(), group, dbs[0])
    assert member.source is Level.SERVER
    assert SearchPath.parse(_session(pg, roles[2], dbs[0])[0]) == member.search_path
    assert any("cannot log in" in n for n in grp.notes)


def test_server_default_from_the_configuration_file(pg: Pg, world) -> None:
    roles, dbs = world
    pg.execute("ALTER SYSTEM SET search_path = s_a, public")
    pg.execute("SELECT pg_reload_conf()")
    try:
        with connect(pg.dsn()) as conn:
            result = resolve_one(conn, pg.dsn(), roles[2], dbs[0])
        server = result.layers[-1]
        assert result.source is Level.SERVER and server.wins
        assert result.search_path == SearchPath.of("s_a", "public")
        assert server.note and "postgresql.auto.conf" in server.note
        assert SearchPath.parse(_session(pg, roles[2], dbs[0])[0]) == result.search_path
    finally:
        pg.execute("ALTER SYSTEM RESET search_path")
        pg.execute("SELECT pg_reload_conf()")


def test_an_unprivileged_reader_is_told_when_the_server_default_is_a_guess(
    pg: Pg, world
) -> None:
    roles, dbs = world
    reader = pg.role("reader")
    pg.execute(sql.SQL("ALTER ROLE {} SET search_path = public").format(sql.Identifier(reader)))
    dsn = pg.dsn(user=reader)
    with connect(dsn) as conn:
        result = resolve_one(conn, dsn, roles[2], dbs[0])
    server = result.layers[-1]
    assert server.note and "pg_file_settings" in server.note
    assert any("pg_file_settings" in n for n in result.notes)
