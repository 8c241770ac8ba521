"""pgpath benchmarks on a throwaway cluster: medians and ratios against baselines measured in
the same run (machines are noisy; absolute times mean little).

    python bench/run.py [--roles 10000] [--databases 50] [--runs 5] [--output FILE]

1. `pgpath diff` against a bare psycopg script fetching the same rows (target <= 1.5x);
2. `pgpath apply` of one change per role against `psql -1 -f` running the same statements
   (target <= 1.2x);
(each pair run in turns, so that both see the same noise);
3. the number of queries each command sends, at a small and at the full size (must not grow
   with the number of roles).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import psycopg
import yaml
from benchlib import median_time, paired_medians, precompile, run_checked
from psycopg import sql
from typer.testing import CliRunner

from pgpath.cli import app
from pgpath.cluster import TemporaryCluster
from pgpath.connection import recording
from pgpath.render import dump_yaml

BASELINE_FETCH = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    rows = conn.execute(
        "SELECT r.rolname, d.datname, s.setconfig FROM pg_db_role_setting s "
        "LEFT JOIN pg_roles r ON r.oid = s.setrole "
        "LEFT JOIN pg_database d ON d.oid = s.setdatabase ORDER BY 1, 2").fetchall()
print(len(rows))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(dsn: str, roles: int, databases: int, offset: int = 0) -> None:
    """Roles r<N>, databases d<N>, with settings at all four scopes."""
    ident = sql.Identifier
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            for i in range(offset, offset + roles):
                role = f"r{i:05d}"
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident(role)))
                conn.execute(sql.SQL("ALTER ROLE {} SET search_path = {}").format(
                    ident(role), sql.SQL('"$user", app, public')))
            conn.execute("ALTER ROLE ALL SET search_path = \"$user\", public")
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for j in range(databases):
            db = f"d{j:02d}"
            if db not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(ident(db)))
                conn.execute(sql.SQL("ALTER DATABASE {} SET search_path = app, public").format(
                    ident(db)))
        with conn.transaction():
            # Every 10th role also has a setting in one database.
            for i in range(offset, offset + roles, 10):
                conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = {}").format(
                    ident(f"r{i:05d}"), ident(f"d{i % max(databases, 1):02d}"),
                    sql.SQL("reporting, app")))


def query_counts(dsn: str, role: str, work: Path) -> dict[str, int]:
    """Statements each command sends (apply: one change, then its rollback)."""
    exported, one = work / "counts-export.yaml", work / "counts-one.yaml"
    one.write_text(f"version: 1\nroles:\n  {role}: [counted]\n")
    snaps = str(work / "counts-snaps")
    commands: dict[str, list[str]] = {
        "show": ["show"], "settings": ["settings"], "resolve ROLE": ["resolve", role],
        "export": ["export", "-o", str(exported)], "diff": ["diff", str(exported)],
        "apply (1 change)": ["apply", str(one), "--yes", "--snapshot-dir", snaps],
    }
    counts = {}
    for name, args in commands.items():
        with recording() as statements:
            result = CliRunner().invoke(app, [*args, "--dsn", dsn])
        if result.exit_code != 0:
            raise SystemExit(f"{name}: {result.stderr}")
        counts[name] = len(statements)
    snapshot = sorted(Path(snaps).glob("*-apply-*.json"))[-1]
    with recording() as statements:
        CliRunner().invoke(app, ["rollback", str(snapshot), "--snapshot-dir", snaps,
                                 "--dsn", dsn])
    counts["rollback (1 change)"] = len(statements)
    return counts


def main() -> None:
    precompile()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=10_000)
    parser.add_argument("--databases", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.output:
        args.output = args.output.resolve()
    pgpath = [sys.executable, "-m", "pgpath"]
    with TemporaryCluster() as cluster, tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        os.chdir(work)  # no checkout may shadow the installed package
        dsn = cluster.dsn()
        psql = str(cluster.bindir / "psql")  # type: ignore[operator]
        log(f"PostgreSQL {cluster.version()}: building 100 roles ...")
        build(dsn, 100, 2)
        small = query_counts(dsn, "r00000", work)
        log(f"building {args.roles} roles and {args.databases} databases ...")
        build(dsn, args.roles - 100, args.databases, offset=100)
        large = query_counts(dsn, "r00000", work)

        # The policy: the current state with every role-wide path changed.
        current = work / "current.yaml"
        run_checked([*pgpath, "export", "-o", str(current), "--dsn", dsn])
        target = work / "target.yaml"
        policy = yaml.safe_load(current.read_text())
        for role, value in policy["roles"].items():
            if isinstance(value, list):
                policy["roles"][role] = [*value, "extra"]
            elif value.get("search_path"):
                value["search_path"] = [*value["search_path"], "extra"]
        target.write_text(dump_yaml(policy))
        forward = work / "forward.sql"
        backward = work / "backward.sql"

        def psql_file(path: Path) -> None:
            run_checked([psql, "-q", "-X", "-1", "-v", "ON_ERROR_STOP=1", "-f", str(path), dsn])

        # current -> target, then target -> current: the statements both ways.
        for path, policy in ((forward, target), (backward, current)):
            path.write_text(run_checked([*pgpath, "diff", str(policy), "--format", "sql",
                                         "--dsn", dsn], ok=(2,)))
            psql_file(path)
        changes = forward.read_text().count("\n")
        log(f"{changes} changes per apply; timing diff ...")

        diff_pgpath, diff_base = paired_medians(
            lambda: run_checked([*pgpath, "diff", str(target), "--format", "json", "--dsn", dsn],
                                ok=(2,)),
            lambda: run_checked([sys.executable, "-c", BASELINE_FETCH, dsn]), args.runs)
        # Where diff's time goes: reading and validating the policy file, with no database.
        validate = median_time(lambda: run_checked(
            [*pgpath, "validate", str(target)]), args.runs)

        def reset() -> None:
            psql_file(backward)

        log("timing apply ...")
        apply_pgpath, apply_psql = paired_medians(
            lambda: run_checked([*pgpath, "apply", str(target), "--yes", "--snapshot-dir",
                                 str(work / "snaps"), "--dsn", dsn],
                                expect=f"committed {changes} change(s)"),
            lambda: psql_file(forward), args.runs, before=reset)

    lines = [
        f"PostgreSQL {cluster.version()}, {args.roles} roles, {args.databases} databases, "
        f"{changes} changes per apply, median of {args.runs} runs "
        f"(`python bench/run.py --roles {args.roles} --databases {args.databases} "
        f"--runs {args.runs}`)",
        "",
        "| measure | pgpath | baseline | ratio | target |",
        "|---|---|---|---|---|",
        f"| diff vs psycopg fetch of the same rows | {diff_pgpath:.2f} s | {diff_base:.2f} s "
        f"| {diff_pgpath / diff_base:.2f}x | <= 1.5x |",
        f"| of which: `pgpath validate` of the same policy (no database) | {validate:.2f} s "
        "| | | |",
        f"| apply vs `psql -1 -f` | {apply_pgpath:.2f} s | {apply_psql:.2f} s "
        f"| {apply_pgpath / apply_psql:.2f}x | <= 1.2x |",
        "",
        "| command | queries at 100 roles | queries at "
        f"{args.roles} roles |",
        "|---|---|---|",
        *(f"| {name} | {small[name]} | {large[name]} |" for name in small),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
