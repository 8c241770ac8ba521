"""Read commands: show, settings, resolve, audit.

Each runs against ``--dsn``, or against every target of a policy file (``--targets FILE``,
each target's read connection) or every bind of a Flask configuration (``--binds
module:object``), concurrently, with one section of output per target or bind. The modules
only these commands use (reads, binds, models) are imported by them, not by every command.
"""


from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import deploy, render
from ..connection import connect, normalize_dsn
from ..errors import ExitCode, PgpathError
from ..model import Severity
from ..policy import Target, load_policy_file
from ..render import Format
from .common import DebugOpt, DsnOpt, FormatOpt, TargetOpt, TargetsOpt, app, handle_errors

BindsOpt = Annotated[str | None, typer.Option(
    "--binds", help="module:object holding SQLALCHEMY_DATABASE_URI / SQLALCHEMY_BINDS: run "
                    "against each bind.")]
Result = tuple[Any, Callable[[], str], int]  # document, table, exit code


@dataclass(frozen=True)
class Source:
    """Where one run reads: a target, a bind (with the role and database it logs in as), or
    the command line's DSN. ``also`` names binds that reach the same database."""

    name: str
    dsn: str | None
    role: str | None = None
    database: str | None = None
    also: tuple[str, ...] = ()
    error: PgpathError | None = None  # e.g. its environment variable is not set


def _target_source(target: Target, dsn: str | None) -> Source:
    try:
        return Source(target.name, deploy.where(target, dsn).read)
    except PgpathError as exc:  # reported for this target only
        return Source(target.name, None, error=exc)


def _sources(dsn: str | None, targets: Path | None, names: list[str] | None,
             binds: str | None, group: bool) -> list[Source] | None:
    """None: the plain --dsn. ``group``: binds that reach the same database count once."""
    from ..binds import group_binds, load_binds
    if targets and binds:
        raise PgpathError("--targets and --binds cannot be combined")
    if targets:
        return [_target_source(t, dsn) for t in load_policy_file(targets).select(names)]
    if binds:
        found = [b for b in load_binds(binds) if not names or b.name in names]
        if names and len(found) < len(set(names)):
            missing = sorted(set(names) - {b.name for b in found})
            raise PgpathError(f"no bind named {', '.join(missing)}")
        if not group:
            return [Source(b.name, b.conninfo, b.user, b.database) for b in found]
        return [Source(g[0].name, g[0].conninfo, g[0].user, g[0].database,
                       tuple(b.name for b in g[1:])) for g in group_binds(found)]
    if names:
        raise PgpathError("--target needs --targets FILE or --binds module:object")
    return None


def _run(sources: list[Source] | None, dsn: str | None, format: Format,
         one: Callable[[Source], Result]) -> None:
    """Run ``one`` for the DSN, or for every source at once; print, then exit with the
    worst code (1 if any source failed)."""
    if sources is None:
        doc, table, code = one(Source("", dsn))
        render.emit(doc, format, table)
        if code:
            raise typer.Exit(code)
        return
    def guarded(source: Source) -> Result:
        if source.error:
            raise source.error
        return one(source)

    results = deploy.run_targets(sources, guarded)

    def label(source: Source) -> str:
        return source.name + (f" (also {', '.join(source.also)})" if source.also else "")

    docs = [{"target": r.item.name, **({"also": list(r.item.also)} if r.item.also else {}),
             **({"result": r.value[0]} if r.value else {"error": str(r.error)})}
            for r in results]
    render.emit(docs, format, lambda: "\n\n".join(
        f"== {label(r.item)}\n" + (r.value[1]() if r.value else f"error: {r.error}")
        for r in results))
    for r in results:
        if r.error:
            typer.echo(f"pgpath: error: {r.item.name}: {r.error}", err=True)
    if any(r.error for r in results):
        raise typer.Exit(ExitCode.ERROR)
    worst = max((r.value[2] for r in results if r.value), default=0)
    if worst:
        raise typer.Exit(worst)


@app.command()
@handle_errors
def show(
    targets: TargetsOpt = None, binds: BindsOpt = None, target: TargetOpt = None,
    dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False,
) -> None:
    """This connection's search_path, where it comes from, and what each entry gives.

    Raw text, parsed list, pg_settings.source, current_schemas(true), and for each entry
    whether the schema exists and whether the current user has USAGE and CREATE on it.
    """
    from .. import reads

    def one(source: Source) -> Result:
        with connect(source.dsn) as conn:
            report = reads.show(conn)
        return render.show_doc(report), lambda: render.show_table(report), 0

    _run(_sources(dsn, targets, target, binds, group=False), dsn, format, one)


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
    targets: TargetsOpt = None, binds: BindsOpt = None, target: TargetOpt = None,
    dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False,
) -> None:
    """Every stored search_path setting, one row per scope (psql's \\drds, parsed)."""
    from .. import reads

    def one(source: Source) -> Result:
        with connect(source.dsn) as conn:
            rows = reads.settings(conn, role, database, all_parameters)
        return ([render.setting_doc(s, all_parameters) for s in rows],
                lambda: render.settings_table(rows, all_parameters), 0)

    _run(_sources(dsn, targets, target, binds, group=True), dsn, format, one)


@app.command()
@handle_errors
def resolve(
    role: Annotated[str | None, typer.Argument(
        help="The role a new session logs in as (with --binds: each bind's own).")] = None,
    database: Annotated[str | None, typer.Option(
        "--database", "-D", help="The database it connects to (default: the connection's).")]
    = None,
    all_pairs: Annotated[bool, typer.Option(
        "--all", help="Every login role x every database it may connect to.")] = False,
    targets: TargetsOpt = None, binds: BindsOpt = None, target: TargetOpt = None,
    dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False,
) -> None:
    """What a new session of ROLE in a database gets, and why.

    Every layer in precedence order (role in database, role, database, all roles, server),
    the winner, and which schemas the session really searches in that database. With
    --binds, what each bind's role gets in each bind's database.
    """
    from .. import reads

    if all_pairs and (role is not None or database):
        raise PgpathError("--all cannot be combined with a ROLE or --database")
    if not all_pairs and role is None and not binds:
        raise PgpathError("give a ROLE, --all, or --binds")

    def one(source: Source) -> Result:
        with connect(source.dsn) as conn:
            if all_pairs:
                results = reads.resolve_all(conn, source.dsn, progress=render.progress)
                return ([render.resolution_doc(r) for r in results],
                        lambda: render.resolutions_table(results), 0)
            who = role or source.role or conn.info.user
            result = reads.resolve_one(conn, source.dsn, who, database or source.database)
        return (render.resolution_doc(result), lambda: render.resolution_table(result), 0)

    _run(_sources(dsn, targets, target, binds, group=False), dsn, format, one)


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
    targets: TargetsOpt = None, binds: BindsOpt = None, target: TargetOpt = None,
    dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False,
) -> None:
    """Security audit of search paths: writable schemas on paths (CVE-2018-1058), SECURITY
    DEFINER functions without a safe pinned path, typos, settings that do nothing."""
    from .. import reads

    if database and all_databases:
        raise PgpathError("--database and --all-databases cannot be combined")

    def one(source: Source) -> Result:
        with connect(source.dsn) as conn:
            findings = reads.audit_cluster(conn, source.dsn, database, all_databases, role,
                                           progress=render.progress)
        failing = any(f.severity.rank >= fail_on.rank for f in findings)
        return ([render.finding_doc(f) for f in findings],
                lambda: render.findings_text(findings),
                ExitCode.DIFFERENCES if failing else 0)

    _run(_sources(dsn, targets, target, binds, group=True), dsn, format, one)


@app.command()
@handle_errors
def models(
    target: Annotated[str, typer.Argument(
        help="module:object: a Flask-SQLAlchemy db, a declarative base or a MetaData.")],
    binds: Annotated[str | None, typer.Option(
        "--binds", help="module:object holding SQLALCHEMY_DATABASE_URI / SQLALCHEMY_BINDS "
                        "(default: --dsn for models without binds).")] = None,
    dsn: DsnOpt = None, format: FormatOpt = Format.table, debug: DebugOpt = False,
) -> None:
    """Check models against the live search path of each bind's role: where unqualified
    tables resolve, shadowing, and cross-bind foreign keys and relationships that fail.
    Exit 2 when a finding is an error."""
    from .. import reads
    from ..binds import binds_from_config, load_binds, load_object
    from ..models import inspect_models
    found = inspect_models(load_object(target))
    if binds:
        bind_list = load_binds(binds)
    else:
        bind_list = binds_from_config({"SQLALCHEMY_DATABASE_URI": normalize_dsn(dsn) or
                                       "postgresql://"})
    findings = reads.check_models_live(found, bind_list)
    render.emit([render.model_finding_doc(f) for f in findings], format,
                lambda: render.model_findings_text(findings))
    if any(f.severity is Severity.error for f in findings):
        raise typer.Exit(ExitCode.DIFFERENCES)
