"""`pgpath audit --all-databases` at scale, on a throwaway cluster.

    python bench/audit.py [--roles 1000] [--databases 20] [--functions 5000] [--runs 3]

Reports the median time and the number of statements sent, first on a small cluster (100
roles, 2 databases, no functions), then at full size: the count must depend on the number of
databases only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import psycopg
from benchlib import median_time, precompile, run_checked
from psycopg import sql
from typer.testing import CliRunner

from pgpath.cli import app
from pgpath.cluster import TemporaryCluster
from pgpath.connection import recording

ident = sql.Identifier


def build(dsn: str, roles: range, databases: range, functions_per_db: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            for i in roles:
                role = ident(f"r{i:05d}")
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
                if i % 3 == 0:
                    conn.execute(sql.SQL("ALTER ROLE {} SET search_path = app, public").format(
                        role))
        for j in databases:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident(f"d{j:02d}")))
    for j in databases:
        with psycopg.connect(make_dsn(dsn, f"d{j:02d}"), autocommit=True) as conn:
            conn.execute("CREATE SCHEMA app")
            conn.execute("GRANT USAGE ON SCHEMA app TO PUBLIC")
        add_functions(dsn, f"d{j:02d}", functions_per_db)


def add_functions(dsn: str, database: str, count: int) -> None:
    """Functions in app: every 5th SECURITY DEFINER, every 2nd with a pinned path."""
    with psycopg.connect(make_dsn(dsn, database)) as conn:
        for k in range(count):
            definer = sql.SQL("SECURITY DEFINER" if k % 5 == 0 else "")
            pinned = sql.SQL("SET search_path = app, pg_temp" if k % 2 else "")
            conn.execute(sql.SQL(
                "CREATE FUNCTION app.{}() RETURNS int LANGUAGE sql {} {} AS 'SELECT 1'"
            ).format(ident(f"f{k}"), definer, pinned))


def make_dsn(dsn: str, dbname: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, dbname=dbname)


def statements(dsn: str) -> int:
    with recording() as log:
        result = CliRunner().invoke(app, ["audit", "--all-databases", "--format", "json",
                                          "--dsn", dsn])
    if result.exit_code not in (0, 2):
        raise SystemExit(result.stderr)
    return len(log)


def main() -> None:
    precompile()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=1000)
    parser.add_argument("--databases", type=int, default=20)
    parser.add_argument("--functions", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with TemporaryCluster() as cluster, tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        dsn = cluster.dsn()
        build(dsn, range(100), range(2), 0)
        small = statements(dsn)
        small_dbs = 2 + 2  # postgres and template1 accept connections too
        print(f"building {args.roles} roles, {args.databases} databases, "
              f"{args.functions} functions ...", file=sys.stderr)
        per_db = args.functions // args.databases
        build(dsn, range(100, args.roles), range(2, args.databases), per_db)
        for j in range(2):  # the small cluster's databases get their share too
            add_functions(dsn, f"d{j:02d}", per_db)
        large = statements(dsn)
        large_dbs = args.databases + 2
        seconds = median_time(lambda: run_checked(
            [sys.executable, "-m", "pgpath", "audit", "--all-databases", "--format", "json",
             "--dsn", dsn], ok=(0, 2)), args.runs)
    print(f"PostgreSQL {cluster.version()}: `pgpath audit --all-databases`, median of "
          f"{args.runs} runs\n")
    print("| cluster | statements sent | audit time |")
    print("|---|---|---|")
    print(f"| 100 roles, {small_dbs} databases, 0 functions | {small} (7 + 3 x {small_dbs}) "
          "| |")
    print(f"| {args.roles} roles, {large_dbs} databases, ~{args.functions} functions | "
          f"{large} (7 + 3 x {large_dbs}) | {seconds:.2f} s |")


if __name__ == "__main__":
    main()
