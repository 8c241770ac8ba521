"""Several clusters in one policy: two throwaway clusters audited and applied in one command,
one of them failing."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from pgpath.cli import app
from pgpath.cluster import TemporaryCluster
from tests.conftest import Pg

pytestmark = pytest.mark.pg
ident = sql.Identifier


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def two_clusters(pg: Pg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Cluster a: the test server (superuser DSN). Cluster b: a throwaway cluster whose
    write DSN is a role without the privileges the policy needs."""
    role = pg.role("tgt")
    with TemporaryCluster(bindir=pg.server.cluster.bindir if pg.server.cluster else None) as b:
        with psycopg.connect(b.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(ident(role)))
            conn.execute("CREATE ROLE weak LOGIN PASSWORD 'pw'")
        monkeypatch.setenv("TARGET_A", pg.dsn())
        monkeypatch.setenv("TARGET_A_READ", pg.dsn(user=role))
        monkeypatch.setenv("TARGET_B", make_conninfo(b.dsn(), user="weak"))
        monkeypatch.setenv("TARGET_B_READ", b.dsn())
        policy = tmp_path / "clusters.yaml"
        policy.write_text(f"""\
version: 1
targets:
  a:
    dsn_env: TARGET_A
    read_dsn_env: TARGET_A_READ
    roles:
      {role}: [app, public]
  b:
    dsn_env: TARGET_B
    read_dsn_env: TARGET_B_READ
    roles:
      {role}: [app, public]
""")
        yield policy, role, b


def stored(dsn: str, role: str) -> list[str] | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname = %s AND s.setdatabase = 0", [role]).fetchone()
    return row[0] if row else None


def test_one_target_fails_the_other_commits(pg: Pg, two_clusters, tmp_path) -> None:
    policy, role, b = two_clusters
    diff = run("diff", str(policy), "--format", "json")
    assert diff.exit_code == 2, diff.stderr
    assert {d["target"] for d in json.loads(diff.stdout)} == {"a", "b"}
    result = run("apply", str(policy), "--yes", "--snapshot-dir", str(tmp_path / "snaps"))
    assert result.exit_code == 1
    assert "target a: committed 1 change(s)" in result.stdout
    assert "target a: verified: nothing differs" in result.stdout
    assert "pgpath: error: target b: " in result.stderr and "permission denied" in result.stderr
    assert stored(pg.dsn(), role) == ["search_path=app, public"]
    assert stored(b.dsn(), role) is None  # b changed nothing
    (snapshot,) = (tmp_path / "snaps" / "a").glob("*.json")
    assert json.loads(snapshot.read_text())["target"] == "a"
    # Per target afterwards: a is done, b still differs.
    assert run("diff", str(policy), "--target", "a").exit_code == 0
    assert run("diff", str(policy), "--target", "b").exit_code == 2
    # The snapshot knows how to reach its target: no --dsn needed to roll back.
    back = run("rollback", str(snapshot), "--snapshot-dir", str(tmp_path / "snaps"))
    assert back.exit_code == 0, back.stderr
    assert stored(pg.dsn(), role) is None


def test_reads_never_use_the_write_dsn(pg: Pg, two_clusters, monkeypatch) -> None:
    policy, *_ = two_clusters
    monkeypatch.setenv("TARGET_A", "host=127.0.0.1 port=1 connect_timeout=2")
    monkeypatch.setenv("TARGET_B", "host=127.0.0.1 port=1 connect_timeout=2")
    assert run("diff", str(policy)).exit_code == 2
    audit = run("audit", "--targets", str(policy), "--format", "json")
    assert audit.exit_code in (0, 2), audit.stderr
    assert [d["target"] for d in json.loads(audit.stdout)] == ["a", "b"]
    show = run("show", "--targets", str(policy), "--target", "b", "--format", "json")
    assert json.loads(show.stdout)[0]["result"]["user"] == "postgres"


def test_a_missing_environment_variable_is_one_error_per_target(two_clusters,
                                                                monkeypatch) -> None:
    policy, *_ = two_clusters
    monkeypatch.delenv("TARGET_B_READ")
    result = run("diff", str(policy))
    assert result.exit_code == 1
    assert ("pgpath: error: target b: environment variable TARGET_B_READ is not set"
            in result.stderr)
    assert "== target a" in result.stdout
    audit = run("audit", "--targets", str(policy), "--format", "json")
    assert audit.exit_code == 1
    assert [d.get("error", "")[:34] for d in json.loads(audit.stdout)] == [
        "", "environment variable TARGET_B_READ"]


def test_export_set_and_reset_per_target(pg: Pg, two_clusters, tmp_path) -> None:
    policy, role, _ = two_clusters
    snaps = str(tmp_path / "snaps")
    dry = run("set", "--role", role, "--targets", str(policy), "--dry-run", "--", "x")
    assert dry.exit_code == 0
    assert dry.stdout == (f'-- target a\nALTER ROLE "{role}" SET search_path = "x";\n'
                          f'-- target b\nALTER ROLE "{role}" SET search_path = "x";\n')
    done = run("set", "--role", role, "--targets", str(policy), "--target", "a", "--yes",
               "--snapshot-dir", snaps, "--", "x", "y")
    assert done.exit_code == 0, done.stderr
    assert stored(pg.dsn(), role) == ["search_path=x, y"]
    exported = tmp_path / "export.yaml"
    result = run("export", "--targets", str(policy), "-o", str(exported))
    assert result.exit_code == 0, result.stderr
    text = exported.read_text()
    assert "dsn_env: TARGET_A" in text and "read_dsn_env: TARGET_A_READ" in text
    assert run("diff", str(exported), "--target", "a").exit_code == 0
    assert run("diff", str(exported), "--target", "b").exit_code == 0
    gone = run("reset", "--role", role, "--targets", str(policy), "--target", "a", "--yes",
               "--snapshot-dir", snaps)
    assert gone.exit_code == 0, gone.stderr
    assert stored(pg.dsn(), role) is None

