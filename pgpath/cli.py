"""The command line: parse arguments, call the core, render. Nothing else lives here."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import psycopg
import typer

from . import reads, render
from .connection import connect, mask, normalize_dsn
from .errors import ExitCode, PgpathError
from .render import Format

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


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("pgpath: interrupted\n")
        sys.exit(130)
