"""diff / plan / apply / rollback / set / reset on a real server, including failures."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from pgpath.cli import app
from pgpath.cluster import TemporaryCluster
from pgpath.connection import recording
from pgpath.executor import LOCK_KEY
from tests.conftest import Pg

pytestmark = pytest.mark.pg
ident = sql.Identifier


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def catalog(pg: Pg, dsn: str | None = None) -> list[tuple]:
    """pg_db_role_setting, byte for byte, with names instead of OIDs."""
    query = ("SELECT coalesce(r.rolname, '-'), coalesce(d.datname, '-'), s.setconfig "
             "FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole "
             "LEFT JOIN pg_database d ON d.oid = s.setdatabase ORDER BY 1, 2")
    if dsn:
        with psycopg.connect(dsn) as conn:
            return conn.execute(query).fetchall()
    return pg.execute(query)


def as_dicts(rows: list[tuple]) -> dict:
    return {(r, d): dict(e.split("=", 1) for e in config) for r, d, config in rows}


@pytest.fixture
def world(pg: Pg, tmp_path: Path):
    app_role, rep = pg.role("app"), pg.role("rep")
    db = pg.database("appdb")
    pg.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = '5s'").format(ident(app_role)))
    pg.execute(sql.SQL("ALTER ROLE {} SET search_path = legacy, public").format(ident(app_role)))
    pg.execute(sql.SQL("ALTER ROLE {} SET work_mem = '8MB'").format(ident(app_role)))
    pg.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = old").format(
        ident(rep), ident(db)))
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"""\
version: 1
databases:
  {db}: [app, public]
roles:
  {app_role}: ["$user", app, public]
  {rep}:
    search_path: "reporting, \\"Mixed Case\\""
    databases:
      {db}: []
""")
    return app_role, rep, db, policy


def apply_args(pg: Pg, tmp_path: Path, target: Path, *extra: str) -> list[str]:
    return ["apply", str(target), "--yes", "--snapshot-dir", str(tmp_path / "snaps"),
            "--dsn", pg.dsn(), *extra]


def snapshots(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "snaps").glob("*.json"))


def test_diff_exit_codes_and_formats(pg: Pg, world) -> None:
    app_role, rep, db, policy = world
    result = run("diff", str(policy), "--dsn", pg.dsn(), "--format", "json")
    assert result.exit_code == 2, result.stderr
    changes = json.loads(result.stdout)
    assert {"action": "set", "role": app_role, "database": None,
            "from": ["legacy", "public"], "to": ["$user", "app", "public"]} in changes
    assert {"action": "set", "role": rep, "database": db, "from": ["old"], "to": []} in changes
    assert {"action": "set", "role": rep, "database": None, "from": None,
            "to": ["reporting", "Mixed Case"]} in changes
    assert len(changes) == 4


def test_apply_runs_exactly_the_diffs_sql_then_nothing_differs(pg: Pg, world, tmp_path) -> None:
    _, _, _, policy = world
    sql_text = run("diff", str(policy), "--dsn", pg.dsn(), "--format", "sql").stdout
    with recording() as log:
        result = run(*apply_args(pg, tmp_path, policy))
    assert result.exit_code == 0, result.stderr
    assert "verified: nothing differs" in result.stdout
    assert "only new sessions" in result.stderr
    assert sql_text in log  # the changes go in one round trip, exactly as diff printed them
    again = run("diff", str(policy), "--dsn", pg.dsn())
    assert again.exit_code == 0 and "nothing differs" in again.stdout


def test_apply_then_rollback_restores_the_catalog(pg: Pg, world, tmp_path) -> None:
    app_role, _, _, policy = world
    before = catalog(pg)
    assert run(*apply_args(pg, tmp_path, policy)).exit_code == 0
    after = as_dicts(catalog(pg))
    # Other parameters of a scope are never touched.
    assert after[(app_role, "-")]["statement_timeout"] == "5s"
    assert after[(app_role, "-")]["work_mem"] == "8MB"
    (snap,) = snapshots(tmp_path)
    doc = json.loads(snap.read_text())
    assert doc["kind"] == "apply" and len(doc["changes"]) == 4
    result = run("rollback", str(snap), "--snapshot-dir", str(tmp_path / "snaps"),
                 "--dsn", pg.dsn())
    assert result.exit_code == 0, result.stderr
    assert catalog(pg) == before
    assert len(snapshots(tmp_path)) == 2  # the rollback wrote its own
    twice = run("rollback", str(snap), "--snapshot-dir", str(tmp_path / "snaps"),
                "--dsn", pg.dsn())
    assert twice.exit_code == 0 and "nothing to change" in twice.stdout
    assert catalog(pg) == before


def test_reset_keeps_the_scopes_other_parameters(pg: Pg, world, tmp_path) -> None:
    app_role, *_ = world
    result = run("reset", "--role", app_role, "--yes", "--snapshot-dir",
                 str(tmp_path / "snaps"), "--dsn", pg.dsn())
    assert result.exit_code == 0, result.stderr
    assert as_dicts(catalog(pg))[(app_role, "-")] == {"statement_timeout": "5s",
                                                       "work_mem": "8MB"}


def test_set_one_scope(pg: Pg, world, tmp_path) -> None:
    _, rep, db, _ = world
    dry = run("set", "--role", rep, "--database", db, "--dry-run", "--dsn", pg.dsn(), "--",
              "$user", "app, public", "Mixed")
    assert dry.exit_code == 0
    assert dry.stdout == (f'ALTER ROLE "{rep}" IN DATABASE "{db}" SET search_path = "$user", '
                          '"app, public", "Mixed";\n')
    assert as_dicts(catalog(pg))[(rep, db)] == {"search_path": "old"}
    result = run("set", "--role", rep, "--database", db, "--yes", "--snapshot-dir",
                 str(tmp_path / "snaps"), "--dsn", pg.dsn(), "--", "$user", "app")
    assert result.exit_code == 0, result.stderr
    assert as_dicts(catalog(pg))[(rep, db)] == {"search_path": '"$user", app'}
    empty = run("set", "--database", db, "--empty", "--yes", "--snapshot-dir",
                str(tmp_path / "snaps"), "--dsn", pg.dsn())
    assert empty.exit_code == 0
    assert as_dicts(catalog(pg))[("-", db)] == {"search_path": '""'}
    assert run("set", "--role", rep, "--dsn", pg.dsn()).exit_code == 1
    assert run("set", "--dsn", pg.dsn(), "--", "x").exit_code == 1


def test_without_yes_and_no_terminal_nothing_changes(pg: Pg, world, tmp_path) -> None:
    _, _, _, policy = world
    before = catalog(pg)
    result = run("apply", str(policy), "--snapshot-dir", str(tmp_path / "s"), "--dsn", pg.dsn())
    assert result.exit_code == 1 and "without --yes" in result.stderr
    assert catalog(pg) == before


def test_missing_roles_and_databases(pg: Pg, tmp_path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\ndatabases:\n  no_db_x: []\nroles:\n  no_role_x: []\n")
    result = run("diff", str(policy), "--dsn", pg.dsn())
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"pgpath: error: {policy}: the cluster has no role "
                                     "'no_role_x', database 'no_db_x'")


def test_a_stale_plan_is_refused(pg: Pg, world, tmp_path) -> None:
    app_role, _, _, policy = world
    plan = tmp_path / "plan.json"
    assert run("plan", str(policy), "-o", str(plan), "--dsn", pg.dsn()).exit_code == 0
    pg.execute(sql.SQL("ALTER ROLE {} SET search_path = changed").format(ident(app_role)))
    before = catalog(pg)
    result = run(*apply_args(pg, tmp_path, plan))
    assert result.exit_code == 3
    assert "changed since they were read" in result.stderr
    assert catalog(pg) == before and not snapshots(tmp_path)


def test_a_fresh_plan_applies(pg: Pg, world, tmp_path) -> None:
    _, _, _, policy = world
    plan = tmp_path / "plan.json"
    assert run("plan", str(policy), "-o", str(plan), "--dsn", pg.dsn()).exit_code == 0
    assert run(*apply_args(pg, tmp_path, plan)).exit_code == 0
    assert run("diff", str(policy), "--dsn", pg.dsn()).exit_code == 0


def test_plans_and_snapshots_from_another_cluster_are_refused(pg: Pg, world, tmp_path) -> None:
    _, _, _, policy = world
    plan = tmp_path / "plan.json"
    assert run("plan", str(policy), "-o", str(plan), "--dsn", pg.dsn()).exit_code == 0
    doc = json.loads(plan.read_text())
    doc["cluster"]["system_identifier"] = "1"
    plan.write_text(json.dumps(doc))
    before = catalog(pg)
    result = run(*apply_args(pg, tmp_path, plan))
    assert result.exit_code == 1 and "made on another cluster" in result.stderr
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps({"pgpath_snapshot": 1, "cluster": {"system_identifier": "1"},
                                "changes": []}))
    result = run("rollback", str(snap), "--dsn", pg.dsn())
    assert result.exit_code == 1 and "made on another cluster" in result.stderr
    assert catalog(pg) == before


@pytest.mark.parametrize("content", ["{not json", '{"pgpath_snapshot": 1}', "[]",
                                     '{"pgpath_snapshot": 1, "cluster": {}, "changes": [1]}'])
def test_corrupt_snapshots(pg: Pg, tmp_path, content: str) -> None:
    snap = tmp_path / "bad.json"
    snap.write_text(content)
    before = catalog(pg)
    result = run("rollback", str(snap), "--dsn", pg.dsn())
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and str(snap) in result.stderr
    assert catalog(pg) == before


def test_bad_policy_files_write_nothing(pg: Pg, tmp_path) -> None:
    before = catalog(pg)
    missing = run("apply", str(tmp_path / "nope.yaml"), "--yes", "--dsn", pg.dsn())
    assert missing.exit_code == 1 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nroles:\n  x: [1]\n")
    result = run("apply", str(bad), "--yes", "--dsn", pg.dsn())
    assert result.exit_code == 1 and f"{bad}:3:7:" in result.stderr
    assert catalog(pg) == before
    # The file is read while the cluster is: its error wins over the connection's.
    for command in (["apply", str(bad), "--yes"], ["diff", str(bad)]):
        result = run(*command, "--dsn", "host=127.0.0.1 port=1 connect_timeout=2")
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            f"pgpath: error: {bad}:3:7: role x: schema name must be a string, not a number 1 "
            "(quote it)"]


def test_a_permission_error_changes_nothing_and_names_the_privilege(pg: Pg, world,
                                                                   tmp_path) -> None:
    app_role, rep, _, _ = world
    # app may change its own role-wide setting but not rep's: the first statement succeeds,
    # the second fails, and neither may stay.
    policy = tmp_path / "p.yaml"
    policy.write_text(f"version: 1\nroles:\n  {app_role}: [mine]\n  {rep}: [theirs]\n")
    before = catalog(pg)
    result = run("apply", str(policy), "--yes", "--snapshot-dir", str(tmp_path / "s"),
                 "--dsn", pg.dsn(user=app_role))
    assert result.exit_code == 1
    assert f'ALTER ROLE "{rep}" SET search_path = "theirs": permission denied' in result.stderr
    assert "(needs superuser, or CREATEROLE" in result.stderr
    assert "nothing was changed" in result.stderr
    all_roles = tmp_path / "all.yaml"
    all_roles.write_text("version: 1\nall_roles: [x]\n")
    result = run("apply", str(all_roles), "--yes", "--dsn", pg.dsn(user=app_role))
    assert result.exit_code == 1 and "ALTER ROLE ALL SET" in result.stderr
    assert "(needs superuser)" in result.stderr
    assert catalog(pg) == before
    assert not list((tmp_path / "s").glob("*.json"))


def test_an_unwritable_snapshot_directory_changes_nothing(pg: Pg, world, tmp_path) -> None:
    _, _, _, policy = world
    before = catalog(pg)
    blocked = tmp_path / "a-file"  # not a directory: no snapshot can go there, even as root
    blocked.write_text("")
    result = run("apply", str(policy), "--yes", "--snapshot-dir", str(blocked / "snaps"),
                 "--dsn", pg.dsn())
    assert result.exit_code == 1
    assert result.stderr.startswith(f"pgpath: error: cannot write the rollback snapshot in "
                                    f"{blocked / 'snaps'}: ")
    assert "nothing was changed" in result.stderr and len(result.stderr.splitlines()) == 1
    assert catalog(pg) == before


def test_concurrent_applies_wait_for_the_lock(pg: Pg, world, tmp_path) -> None:
    _, _, _, policy = world
    before = catalog(pg)
    with psycopg.connect(pg.dsn()) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        result = run(*apply_args(pg, tmp_path, policy, "--lock-timeout", "300ms"))
    assert result.exit_code == 1 and "holds the lock" in result.stderr
    assert catalog(pg) == before


def _apply_in_background(pg: Pg, tmp_path: Path, policy: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pgpath", *apply_args(pg, tmp_path, policy)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_blocked(pg: Pg) -> int:
    """The pid of a pgpath backend waiting on a row lock."""
    for _ in range(200):
        rows = pg.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgpath' "
                          "AND wait_event_type = 'Lock' AND query LIKE 'ALTER%%'")
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("apply never blocked")


@pytest.mark.parametrize("how", ["terminate", "restart"])
def test_a_connection_lost_mid_apply_changes_nothing(pg: Pg, world, tmp_path, how) -> None:
    app_role, rep, db, _ = world
    if how == "restart" and pg.server.cluster is None:
        pytest.skip("restarting needs the throwaway cluster")
    policy = tmp_path / "p.yaml"
    # Two changes: the first runs, the second blocks on a row this test holds locked.
    policy.write_text(f"version: 1\nroles:\n  {app_role}: [first]\n"
                      f"  {rep}:\n    databases:\n      {db}: [second]\n")
    before = catalog(pg)
    blocker = psycopg.connect(pg.dsn())
    blocker.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET work_mem = '1MB'").format(
        ident(rep), ident(db)))
    proc = _apply_in_background(pg, tmp_path, policy)
    try:
        pid = _wait_blocked(pg)
        if how == "terminate":
            pg.execute("SELECT pg_terminate_backend(%s)", [pid])
            blocker.rollback()
        else:
            threading.Thread(target=pg.server.cluster.restart).start()
        out, err = proc.communicate(timeout=60)
    finally:
        blocker.close()
        proc.kill()
    for _ in range(100):
        try:
            after = catalog(pg)
            break
        except psycopg.OperationalError:
            time.sleep(0.1)
    assert proc.returncode == 1, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert after == before
    assert not snapshots(tmp_path)


def test_export_reproduces_the_settings_on_another_cluster(pg: Pg, world, tmp_path) -> None:
    app_role, rep, db, _ = world
    exported = tmp_path / "export.yaml"
    assert run("export", "-o", str(exported), "--dsn", pg.dsn()).exit_code == 0
    assert run("diff", str(exported), "--dsn", pg.dsn()).exit_code == 0
    assert run(*apply_args(pg, tmp_path, exported)).stdout.startswith("nothing to change")
    with TemporaryCluster(bindir=pg.server.cluster.bindir if pg.server.cluster else None) as other:
        statements = [sql.SQL("CREATE ROLE {}").format(ident(r)) for r in (app_role, rep)]
        with psycopg.connect(other.dsn(), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident(db)))
        assert run("diff", str(exported), "--dsn", other.dsn()).exit_code == 2
        result = run("apply", str(exported), "--yes", "--snapshot-dir", str(tmp_path / "o"),
                     "--dsn", other.dsn())
        assert result.exit_code == 0, result.stderr
        mine = {k: v.get("search_path") for k, v in as_dicts(catalog(pg)).items()
                if k[0] in (app_role, rep) or k[1] == db}
        theirs = {k: v.get("search_path") for k, v in as_dicts(catalog(pg, other.dsn())).items()
                  if k[0] in (app_role, rep) or k[1] == db}
        assert theirs == mine
