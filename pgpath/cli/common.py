"""What every command shares: the Typer app, common options, and error handling."""


import functools
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
import typer

from ..connection import first_line, mask, normalize_dsn
from ..errors import ExitCode, PgpathError
from ..render import Format

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
TargetsOpt = Annotated[Path | None, typer.Option(
    "--targets", help="A policy file with targets: run against each target (reads use its "
                      "read connection).")]
TargetOpt = Annotated[list[str] | None, typer.Option(
    "--target", "-t", help="Only this target of a policy file with targets (repeatable; "
                           "default: all).")]


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
            raise _fail(_masked(first_line(exc), dsn), ExitCode.ERROR) from None
        except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # the reader of our output went away: nothing to say
            raise typer.Exit(ExitCode.ERROR) from None
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


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"pgpath {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Audit, change and roll back PostgreSQL search_path settings at every scope."""
