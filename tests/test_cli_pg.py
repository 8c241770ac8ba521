"""The commands end to end on a real server: output shapes, errors, read-only use,
query counts."""

from __future__ import annotations

import json

import pytest
import yaml
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from typer.testing import CliRunner

from pgpath.cli import app
from pgpath.connection import recording
from tests.conftest import Pg

pytestmark = pytest.mark.pg


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def run_json(*args: str):
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def app_world(pg: Pg):
    app_role = pg.role("app")
    reporting = pg.role("reporting")
    db = pg.database("appdb")
    ident = sql.Identifier
    pg.execute("CREATE SCHEMA app", dbname=db)
    pg.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(ident(app_role)), dbname=db)
    pg.execute(sql.SQL("ALTER ROLE {} SET search_path = {}").format(
        ident(app_role), sql.SQL('"$user", app, public')))
    pg.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = '5s'").format(ident(app_role)))
    pg.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = app, {}").format(
        ident(reporting), ident(db), ident("Mixed Case")))
    pg.execute(sql.SQL("ALTER DATABASE {} SET search_path = app, public").format(ident(db)))
    return app_role, reporting, db


def test_show(pg: Pg, app_world) -> None:
    app_role, _, db = app_world
    doc = run_json("show", "--dsn", pg.dsn(db, user=app_role))
    assert doc["search_path"] == ["$user", "app", "public"]
    assert doc["raw"] == '"$user", app, public'
    assert doc["source"] == "user"
    assert doc["effective"] == ["pg_catalog", "app", "public"]
    by_element = {e["element"]: e for e in doc["entries"]}
    assert by_element["app"]["usage"] and not by_element["app"]["create"]
    assert not by_element["$user"]["exists"]
    table = run("show", "--dsn", pg.dsn(db, user=app_role))
    assert table.exit_code == 0 and '"$user", app, public' in table.stdout


def test_settings(pg: Pg, app_world) -> None:
    app_role, reporting, db = app_world
    rows = run_json("settings", "--dsn", pg.dsn())
    mine = [r for r in rows if r["role"] in (app_role, reporting) or r["database"] == db]
    assert {(r["role"], r["database"]): r["search_path"] for r in mine} == {
        (app_role, None): ["$user", "app", "public"],
        (reporting, db): ["app", "Mixed Case"],
        (None, db): ["app", "public"],
    }
    assert all("parameters" not in r for r in rows)
    only = run_json("settings", "--role", app_role, "--all-parameters", "--dsn", pg.dsn())
    assert only == [{"role": app_role, "database": None, "level": "role",
                     "search_path": ["$user", "app", "public"], "raw": '"$user", app, public',
                     "parameters": {"statement_timeout": "5s"}}]
    assert run_json("settings", "--database", db, "--role", reporting, "--dsn", pg.dsn())[0][
        "level"] == "role in database"
    yaml_out = run("settings", "--role", app_role, "--format", "yaml", "--dsn", pg.dsn())
    assert yaml_out.exit_code == 0
    assert yaml.safe_load(yaml_out.stdout)[0]["search_path"] == ["$user", "app", "public"]


def test_resolve(pg: Pg, app_world) -> None:
    app_role, reporting, db = app_world
    doc = run_json("resolve", reporting, "--database", db, "--dsn", pg.dsn())
    assert doc["source"] == "role in database"
    assert doc["search_path"] == ["app", "Mixed Case"]
    assert [layer["level"] for layer in doc["layers"]] == [
        "role in database", "role", "database", "all roles", "server"]
    assert doc["effective"] == ["pg_catalog"]  # reporting has no USAGE on app
    doc = run_json("resolve", app_role, "-D", db, "--dsn", pg.dsn())
    assert doc["source"] == "role" and doc["effective"] == ["pg_catalog", "app", "public"]
    table = run("resolve", app_role, "-D", db, "--dsn", pg.dsn())
    assert "<- wins" in table.stdout


def test_resolve_all(pg: Pg, app_world) -> None:
    app_role, reporting, db = app_world
    docs = run_json("resolve", "--all", "--dsn", pg.dsn())
    pairs = {(d["role"], d["database"]): d for d in docs}
    assert pairs[(app_role, db)]["source"] == "role"
    assert pairs[(reporting, db)]["source"] == "role in database"
    assert pairs[(reporting, pg.server.database)]["source"] in ("all roles", "server")


@pytest.mark.parametrize("command", [["show"], ["settings"], ["resolve", "ROLE"],
                                     ["resolve", "--all"]])
def test_a_read_only_role_can_run_every_command(pg: Pg, app_world, command) -> None:
    app_role, _, db = app_world
    reader = pg.role("reader", options="")
    pg.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
        sql.Identifier(reader)))
    args = [app_role if a == "ROLE" else a for a in command]
    result = run(*args, "--dsn", pg.dsn(db, user=reader), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) is not None


def test_unknown_role_and_database(pg: Pg, app_world) -> None:
    result = run("resolve", "no_such_role_x", "--dsn", pg.dsn())
    assert result.exit_code == 1
    assert result.stderr.strip() == "pgpath: error: no such role 'no_such_role_x'"
    result = run("resolve", app_world[0], "-D", "no_such_db_x", "--dsn", pg.dsn())
    assert result.exit_code == 1 and "no such database 'no_such_db_x'" in result.stderr
    result = run("settings", "--role", "nobody_here_x", "--dsn", pg.dsn())
    assert result.exit_code == 1 and "no such role" in result.stderr


def _tcp_dsn(pg: Pg, **overrides: str) -> str:
    params = conninfo_to_dict(pg.dsn())
    if str(params.get("host", "")).startswith("/"):
        cluster = pg.server.cluster
        if cluster is None:
            pytest.skip("the test server has no TCP listener we know of")
        params.update(host="127.0.0.1", password=cluster.password)
    params.update(overrides)
    return make_conninfo(**params)


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("mysql://root:hunter2@localhost/db", "not a PostgreSQL URL: mysql://"),
        ("sqlite:///x.db", "not a PostgreSQL URL"),
        ("host=127.0.0.1 port=1 password=hunter2 connect_timeout=3", "cannot connect to"),
        ("postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=3", "cannot connect to"),
        ("not a dsn", "invalid connection string"),
    ],
)
def test_bad_dsns_get_one_line_without_the_password(dsn: str, expected: str) -> None:
    result = run("show", "--dsn", dsn)
    assert result.exit_code == 1
    assert expected in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_password_and_missing_database(pg: Pg) -> None:
    role = pg.role("pw")
    wrong = _tcp_dsn(pg, user=role, password="wrong-secret-123")
    result = run("show", "--dsn", wrong)
    if result.exit_code == 0:
        pytest.skip("the test server trusts TCP connections")
    assert result.exit_code == 1
    assert "password authentication failed" in result.stderr
    assert "wrong-secret-123" not in result.stderr
    result = run("show", "--dsn", _tcp_dsn(pg, dbname="no_such_database_x"))
    assert result.exit_code == 1
    assert 'database "no_such_database_x" does not exist' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_debug_shows_a_traceback() -> None:
    result = run("show", "--dsn", "mysql://x@y/z", "--debug")
    assert result.exit_code == 1 and "Traceback" in result.stderr


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg", "postgresql+psycopg2",
                                    "postgresql+asyncpg", "postgres"])
def test_sqlalchemy_and_uri_forms(pg: Pg, driver: str) -> None:
    params = conninfo_to_dict(_tcp_dsn(pg))
    url = (f"{driver}://{params['user']}:{params['password']}@{params['host']}:"
           f"{params['port']}/{params['dbname']}")
    doc = run_json("show", "--dsn", url)
    assert doc["database"] == params["dbname"]


def test_libpq_environment_is_used_without_a_dsn(pg: Pg, monkeypatch) -> None:
    params = conninfo_to_dict(pg.dsn())
    monkeypatch.delenv("PGPATH_DSN", raising=False)
    monkeypatch.setenv("PGHOST", str(params["host"]))
    monkeypatch.setenv("PGPORT", str(params["port"]))
    monkeypatch.setenv("PGUSER", str(params["user"]))
    if params.get("password"):
        monkeypatch.setenv("PGPASSWORD", str(params["password"]))
    monkeypatch.setenv("PGDATABASE", str(params.get("dbname", "postgres")))
    assert run_json("show")["user"] == params["user"]


def _counts(pg: Pg, db: str, role: str) -> dict[str, int]:
    counts = {}
    for name, args in {
        "show": ["show"], "settings": ["settings"], "resolve": ["resolve", role, "-D", db],
        "resolve --all": ["resolve", "--all"],
    }.items():
        with recording() as log:
            result = run(*args, "--dsn", pg.dsn(), "--format", "json")
        assert result.exit_code == 0, result.stderr
        counts[name] = len(log)
    return counts


def test_query_counts_do_not_grow_with_roles(pg: Pg, app_world) -> None:
    app_role, _, db = app_world
    before = _counts(pg, db, app_role)
    for i in range(40):
        role = pg.role(f"many{i}")
        pg.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = app").format(
            sql.Identifier(role), sql.Identifier(db)))
    after = _counts(pg, db, app_role)
    assert after == before
    assert before["show"] == 2 and before["settings"] == 1 and before["resolve"] == 7
