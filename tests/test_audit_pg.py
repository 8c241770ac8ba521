"""pgpath audit on real PostgreSQL: each check planted, and a safe setup that raises nothing."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from pgpath.cli import app
from pgpath.connection import recording
from tests.conftest import Pg

pytestmark = pytest.mark.pg
ident = sql.Identifier


def audit(pg: Pg, *args: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(app, ["audit", *args, "--format", "json", "--dsn", pg.dsn()])
    assert result.exit_code in (0, 2), result.stderr
    return result.exit_code, json.loads(result.stdout)


def codes(findings: list[dict], **where: str) -> set[str]:
    return {f["code"] for f in findings
            if all(f.get(k) == v for k, v in where.items())}


@pytest.fixture
def safe(pg: Pg):
    """The documented secure pattern: a schema per user, "$user", public, and CREATE on
    public revoked from PUBLIC (the default from PostgreSQL 15)."""
    db = pg.database("safe")
    alice, bob = pg.role("alice"), pg.role("bob")
    with psycopg.connect(pg.dsn(db), autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for role in (alice, bob):
            conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                ident(role), ident(role)))
    return db, alice, bob


def run_sql(pg: Pg, db: str, *statements: str | sql.Composable) -> None:
    with psycopg.connect(pg.dsn(db), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def test_a_safe_setup_raises_nothing(pg: Pg, safe) -> None:
    db, alice, _ = safe
    # A SECURITY DEFINER function done right, and an extension's functions (not ours).
    run_sql(pg, db, sql.SQL("SET ROLE {}").format(ident(alice)), sql.SQL(
        "CREATE FUNCTION {}.f() RETURNS int LANGUAGE sql SECURITY DEFINER "
        "SET search_path = {}, pg_temp AS 'SELECT 1'").format(ident(alice), ident(alice)),
        "RESET ROLE", "CREATE EXTENSION IF NOT EXISTS citext")
    exit_code, findings = audit(pg, "--database", db)
    assert findings == [] and exit_code == 0
    exit_code, findings = audit(pg, "--database", db, "--role", alice, "--fail-on", "info")
    assert findings == [] and exit_code == 0


def test_public_can_create_on_the_path(pg: Pg, safe) -> None:
    db, alice, _ = safe
    run_sql(pg, db, "GRANT CREATE ON SCHEMA public TO PUBLIC")
    exit_code, findings = audit(pg, "--database", db, "--role", alice)
    (finding,) = [f for f in findings if f["code"] == "PGP001"]
    assert finding["severity"] == "error" and finding["schema"] == "public"
    assert finding["fix"] == 'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC;'
    assert exit_code == 2


def test_another_role_can_create_on_the_path(pg: Pg, safe) -> None:
    db, alice, bob = safe
    mallory, team = pg.role("mallory"), pg.role("team", login=False)
    run_sql(pg, db, "CREATE SCHEMA shared", "CREATE SCHEMA teamspace",
            sql.SQL("CREATE SCHEMA owned AUTHORIZATION {}").format(ident(mallory)),
            sql.SQL("GRANT USAGE ON SCHEMA shared, teamspace, owned TO PUBLIC"),
            sql.SQL("GRANT CREATE ON SCHEMA shared TO {}").format(ident(mallory)),
            sql.SQL("GRANT CREATE ON SCHEMA teamspace TO {}").format(ident(team)),
            sql.SQL("GRANT {} TO {}").format(ident(team), ident(alice)),
            sql.SQL("ALTER ROLE {} SET search_path = shared, teamspace, owned").format(
                ident(alice)))
    exit_code, findings = audit(pg, "--database", db, "--role", alice)
    by_schema = {f["schema"]: f for f in findings if f["code"] == "PGP002"}
    assert set(by_schema) == {"shared", "owned"}  # teamspace: alice is a member of team
    assert mallory in by_schema["shared"]["message"]
    assert by_schema["shared"]["fix"] == f'REVOKE CREATE ON SCHEMA "shared" FROM "{mallory}";'
    assert by_schema["owned"]["fix"] == (
        f'ALTER ROLE "{alice}" SET search_path = "shared", "teamspace";')
    assert by_schema["shared"]["severity"] == "warning" and exit_code == 2
    assert audit(pg, "--database", db, "--role", alice, "--fail-on", "error")[0] == 0
    # bob's path does not include those schemas: nothing about bob.
    assert audit(pg, "--database", db, "--role", bob)[1] == []


def test_pg_catalog_after_a_writable_schema(pg: Pg, safe) -> None:
    db, alice, _ = safe
    mallory = pg.role("mallory")
    run_sql(pg, db, "CREATE SCHEMA shared", "GRANT USAGE ON SCHEMA shared TO PUBLIC",
            sql.SQL("GRANT CREATE ON SCHEMA shared TO {}").format(ident(mallory)),
            sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = shared, pg_catalog").format(
                ident(alice), ident(db)))
    _, findings = audit(pg, "--database", db, "--role", alice)
    (finding,) = [f for f in findings if f["code"] == "PGP003"]
    assert finding["fix"] == (f'ALTER ROLE "{alice}" IN DATABASE "{db}" SET search_path = '
                              '"pg_catalog", "shared";')
    # pg_catalog first (or implicit) is fine.
    run_sql(pg, db, sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = pg_catalog, shared")
            .format(ident(alice), ident(db)))
    assert "PGP003" not in codes(audit(pg, "--database", db, "--role", alice)[1])


def test_security_definer_functions(pg: Pg, safe) -> None:
    db, alice, _ = safe
    mallory = pg.role("mallory")
    schema = ident(alice)
    run_sql(
        pg, db, "CREATE SCHEMA shared", "GRANT USAGE ON SCHEMA shared TO PUBLIC",
        sql.SQL("GRANT CREATE ON SCHEMA shared TO {}").format(ident(mallory)),
        sql.SQL("SET ROLE {}").format(ident(alice)),
        sql.SQL("CREATE FUNCTION {}.nopath() RETURNS int LANGUAGE sql SECURITY DEFINER "
                "AS 'SELECT 1'").format(schema),
        sql.SQL("CREATE FUNCTION {}.writable() RETURNS int LANGUAGE sql SECURITY DEFINER "
                "SET search_path = shared, pg_temp AS 'SELECT 1'").format(schema),
        sql.SQL("CREATE FUNCTION {}.notemp() RETURNS int LANGUAGE sql SECURITY DEFINER "
                "SET search_path = {} AS 'SELECT 1'").format(schema, schema),
        sql.SQL("CREATE FUNCTION {}.tempfirst() RETURNS int LANGUAGE sql SECURITY DEFINER "
                "SET search_path = pg_temp, {} AS 'SELECT 1'").format(schema, schema),
        sql.SQL("CREATE FUNCTION {}.plain() RETURNS int LANGUAGE sql AS 'SELECT 1'").format(
            schema),
        sql.SQL("CREATE FUNCTION {}.good() RETURNS int LANGUAGE sql SECURITY DEFINER "
                "SET search_path = {}, pg_temp AS 'SELECT 1'").format(schema, schema),
        "RESET ROLE",
        "CREATE EXTENSION IF NOT EXISTS citext",
    )
    _, findings = audit(pg, "--database", db, "--fail-on", "info")
    by_function = {}
    for f in findings:
        if f["function"]:
            by_function.setdefault(f["function"].split(".")[-1], set()).add(f["code"])
    assert by_function == {
        "nopath()": {"PGP010"}, "writable()": {"PGP011"}, "notemp()": {"PGP012"},
        "tempfirst()": {"PGP012"}, "plain()": {"PGP013"},
    }
    fixes = {f["function"].split(".")[-1]: f["fix"] for f in findings if f["function"]}
    assert fixes["nopath()"] == (f'ALTER ROUTINE {alice}.nopath() SET search_path = '
                                 f'"{alice}", "pg_temp";')
    assert fixes["writable()"].endswith('SET search_path = "pg_temp";')
    assert fixes["tempfirst()"].endswith(f'SET search_path = "{alice}", "pg_temp";')
    severities = {f["code"]: f["severity"] for f in findings if f["function"]}
    assert severities == {"PGP010": "error", "PGP011": "error", "PGP012": "error",
                          "PGP013": "info"}


def test_typos_and_missing_user_schemas(pg: Pg, safe) -> None:
    db, alice, _ = safe
    carol = pg.role("carol")
    run_sql(pg, db, sql.SQL("ALTER DATABASE {} SET search_path = \"$user\", publc").format(
        ident(db)))
    _, findings = audit(pg, "--database", db, "--fail-on", "info")
    assert codes(findings, role=alice) == {"PGP020"}
    typo = next(f for f in findings if f["role"] == alice)
    assert typo["schema"] == "publc" and typo["severity"] == "warning"
    assert typo["fix"] == f'ALTER DATABASE "{db}" SET search_path = "$user";'
    assert codes(findings, role=carol) == {"PGP020", "PGP021"}


def test_a_whole_list_stored_as_one_name(pg: Pg, safe) -> None:
    db, alice, _ = safe
    run_sql(pg, db, sql.SQL("ALTER ROLE {} SET search_path = 'app, public'").format(
        ident(alice)))
    exit_code, findings = audit(pg, "--database", db, "--role", alice, "--fail-on", "error")
    (finding,) = [f for f in findings if f["code"] == "PGP030"]
    assert finding["schema"] == "app, public" and exit_code == 2
    assert finding["fix"] == f'ALTER ROLE "{alice}" SET search_path = "app", "public";'


def test_settings_that_do_nothing(pg: Pg, safe) -> None:
    db, alice, _ = safe
    group = pg.role("group", login=False)
    closed = pg.database("closed")
    run_sql(pg, db,
            sql.SQL("ALTER ROLE {} SET search_path = app").format(ident(group)),
            sql.SQL("ALTER DATABASE {} SET search_path = app").format(ident(closed)),
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(ident(closed)),
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(ident(db)),
            sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = public").format(
                ident(alice), ident(db)))
    _, findings = audit(pg, "--all-databases", "--fail-on", "info")
    assert codes(findings, role=group) == {"PGP040"}
    assert codes(findings, database=closed) == {"PGP041"}
    assert "PGP042" in codes(findings, role=alice, database=db)
    nologin = next(f for f in findings if f["code"] == "PGP040" and f["role"] == group)
    assert nologin["severity"] == "warning"
    assert nologin["fix"] == f'ALTER ROLE "{group}" RESET search_path;'
    run_sql(pg, "postgres", sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
        ident(closed)))


def test_table_output_and_errors(pg: Pg, safe) -> None:
    db, _, _ = safe
    result = CliRunner().invoke(app, ["audit", "--database", db, "--dsn", pg.dsn()])
    assert result.exit_code == 0 and "no findings" in result.stdout
    result = CliRunner().invoke(app, ["audit", "--database", "no_db_x", "--dsn", pg.dsn()])
    assert result.exit_code == 1 and "no such database 'no_db_x'" in result.stderr
    result = CliRunner().invoke(app, ["audit", "-D", db, "--all-databases", "--dsn", pg.dsn()])
    assert result.exit_code == 1


def test_query_count_is_independent_of_roles_and_functions(pg: Pg, safe) -> None:
    db, alice, _ = safe

    def count() -> int:
        with recording() as log:
            result = CliRunner().invoke(app, ["audit", "--all-databases", "--dsn", pg.dsn()])
        assert result.exit_code in (0, 2), result.stderr
        return len(log)

    databases = len(pg.execute("SELECT 1 FROM pg_database WHERE datallowconn"))
    before = count()
    for i in range(30):
        pg.role(f"extra{i}")
    run_sql(pg, db, *(sql.SQL("CREATE FUNCTION {}.{}() RETURNS int LANGUAGE sql "
                              "AS 'SELECT 1'").format(ident(alice), ident(f"f{i}"))
                      for i in range(50)))
    assert count() == before == 7 + 3 * databases
