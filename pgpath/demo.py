"""`pgpath demo`: a throwaway cluster with the Flask-SQLAlchemy binds scenario, walked through
show -> settings -> diff -> apply -> resolve -> rollback, then removed."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from .cluster import TemporaryCluster

# Each database gets a schema of its own name: alpha.person and prime.book, as the Flask
# models `Person` (bind "alpha") and `Book` (bind "prime").
SCENARIO = {
    "alpha": [
        "CREATE SCHEMA alpha",
        "CREATE TABLE alpha.person (id serial PRIMARY KEY, name text)",
        "INSERT INTO alpha.person (name) VALUES ('Tim'), ('Tom'), ('Mazie'), ('Nadine'), "
        "('Augustine')",
        "GRANT USAGE ON SCHEMA alpha TO app, app_readonly",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON alpha.person TO app",
        "GRANT USAGE ON SEQUENCE alpha.person_id_seq TO app",
        "GRANT SELECT ON alpha.person TO app_readonly",
    ],
    "prime": [
        "CREATE SCHEMA prime",
        "CREATE TABLE prime.book (id serial PRIMARY KEY, name text, person_id integer)",
        "INSERT INTO prime.book (name, person_id) VALUES ('Once upon a time', 2), "
        "('Twice too many', 1), ('Three times the charm', 3)",
        "GRANT USAGE ON SCHEMA prime TO app",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON prime.book TO app",
    ],
}
ROLES = [
    "CREATE ROLE app LOGIN PASSWORD 'demo'",
    "CREATE ROLE app_readonly LOGIN PASSWORD 'demo'",
    "ALTER ROLE app_readonly SET default_transaction_read_only = on",
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    # The classic mistake: the whole list as one literal is ONE schema named "alpha, prime".
    "ALTER ROLE app SET search_path = 'alpha, prime'",
]


def example_policy() -> str:
    return resources.files("pgpath.examples").joinpath("policy.yaml").read_text("utf-8")


def _build(cluster: TemporaryCluster) -> None:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        for statement in ROLES:
            conn.execute(statement)  # type: ignore[arg-type]
        for database in SCENARIO:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    for database, statements in SCENARIO.items():
        with psycopg.connect(cluster.dsn(database), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]


def run_demo(bindir: Path | None = None, echo: Callable[[str], None] = print) -> int:
    """Run the walk-through; returns 0 when every step behaved as expected."""
    echo("Starting a throwaway PostgreSQL cluster ...")
    with TemporaryCluster(bindir=bindir) as cluster, \
            tempfile.TemporaryDirectory(prefix="pgpath-demo-") as work:
        _build(cluster)
        echo(f"PostgreSQL {cluster.version()} at {cluster.socket_dir} (port {cluster.port}); "
             "databases alpha and prime, roles app and app_readonly\n")
        policy = Path(work) / "policy.yaml"
        policy.write_text(example_policy(), encoding="utf-8")
        snapshots = Path(work) / "snapshots"
        dsn = cluster.dsn()
        app_alpha = make_conninfo(dsn, user="app", dbname="alpha")

        def step(title: str, *args: str, expect: int = 0, dsn_arg: str = dsn) -> str:
            shown = " ".join(a if " " not in a else repr(a) for a in (*args, "--dsn", dsn_arg))
            echo(f"== {title}\n$ pgpath {shown}")
            # cwd: a checkout in the current directory must not shadow the installed package.
            proc = subprocess.run([sys.executable, "-m", "pgpath", *args, "--dsn", dsn_arg],
                                  capture_output=True, text=True, cwd=work)
            echo((proc.stdout + proc.stderr).rstrip() + "\n")
            if proc.returncode != expect:
                raise RuntimeError(f"step {title!r} exited {proc.returncode}, expected {expect}")
            return proc.stdout

        try:
            step("1. show: what the app's connection to alpha gets (one schema 'alpha, prime')",
                 "show", dsn_arg=app_alpha)
            step("2. settings: every stored search_path", "settings")
            step("3. diff against examples/policy.yaml (exit 2: differences)",
                 "diff", str(policy), expect=2)
            step("4. apply it: one transaction, snapshot, read back", "apply", str(policy),
                 "--yes", "--snapshot-dir", str(snapshots))
            step("5. resolve: what new sessions get now", "resolve", "app", "-D", "prime")
            step("   and the read-only role in alpha", "resolve", "app_readonly", "-D", "alpha")
            snapshot = sorted(snapshots.glob("*-apply-*.json"))[-1]
            step("6. rollback: back to exactly what was there", "rollback", str(snapshot),
                 "--snapshot-dir", str(snapshots))
            step("7. settings again: the original state", "settings")
        except RuntimeError as exc:
            echo(f"demo failed: {exc}")
            return 1
    echo("Cluster stopped and removed.")
    return 0
