"""Connecting: DSNs in every form users have them, errors without secrets."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from .errors import PgpathError

_POSTGRES_SCHEMES = ("postgresql", "postgres")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# SQLAlchemy/asyncpg query options that are not libpq keywords.
_DRIVER_OPTIONS = {"ssl": "sslmode", "prepared_statement_cache_size": None}

_recorder: ContextVar[list[str] | None] = ContextVar("pgpath_statements", default=None)


class _RecordingCursor(psycopg.Cursor[Any]):
    """Appends each statement to the active ``recording()`` list, if there is one."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        log = _recorder.get()
        if log is not None:
            log.append(query.as_string(self) if isinstance(query, sql.Composable) else str(query))
        return super().execute(query, params, **kwargs)


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """Collect every statement pgpath sends while the block runs (for query counts)."""
    log: list[str] = []
    token = _recorder.set(log)
    try:
        yield log
    finally:
        _recorder.reset(token)


def normalize_dsn(dsn: str | None) -> str:
    """A libpq conninfo string from a conninfo, a ``postgresql://`` URI or a SQLAlchemy URL.

    ``None`` or an empty string means: let libpq read its environment (PGHOST, PGSERVICE,
    .pgpass, ...) as psql does.
    """
    if not dsn:
        return ""
    match = _SCHEME.match(dsn)
    if match is None:
        try:
            conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as exc:
            raise PgpathError(f"invalid connection string: {first_line(exc)}") from None
        return dsn
    scheme = match["scheme"].lower()
    dialect, _, driver = scheme.partition("+")
    if dialect not in _POSTGRES_SCHEMES:
        raise PgpathError(f"not a PostgreSQL URL: {dialect}:// (expected postgresql://)")
    if not driver:
        return dsn
    return _from_sqlalchemy_url(dsn)


def _from_sqlalchemy_url(dsn: str) -> str:
    from sqlalchemy.engine import make_url  # lazily: only SQLAlchemy URLs need it

    try:
        url = make_url(dsn)
    except Exception as exc:  # SQLAlchemy raises several types here
        raise PgpathError(f"invalid SQLAlchemy URL: {exc}") from None
    params: dict[str, Any] = {
        "host": url.host, "port": url.port, "user": url.username,
        "password": url.password, "dbname": url.database,
    }
    for key, value in url.query.items():
        if key in _DRIVER_OPTIONS:
            if _DRIVER_OPTIONS[key] is None:
                continue
            key = _DRIVER_OPTIONS[key]
        if isinstance(value, tuple):  # ?host=a&host=b: libpq takes a comma-separated list
            value = ",".join(value)
        params[key] = value
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


def describe(conninfo: str) -> str:
    """Where a DSN points, without its password: ``user@host:port/dbname``."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<invalid DSN>"
    if "service" in params and "host" not in params:
        where = f"service={params['service']}"
    else:
        where = f"{params.get('host', '(default)')}:{params.get('port', '(default)')}"
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{where}/{params.get('dbname', '(default)')}"


def mask(text: str, conninfo: str | None) -> str:
    """Remove the DSN's password from any text shown to the user."""
    if conninfo:
        with contextlib.suppress(psycopg.ProgrammingError):
            password = conninfo_to_dict(conninfo).get("password")
            if password:
                text = text.replace(str(password), "********")
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1********@", text)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an error's text (libpq messages span several)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def connection_error(exc: psycopg.Error, conninfo: str) -> PgpathError:
    """One readable line for a failed connection, password masked."""
    reason = first_line(exc)
    for noise in ("connection is bad: ", "connection failed: ", "FATAL:  "):
        reason = reason.replace(noise, "")
    where = describe(conninfo) if conninfo else "the server libpq's environment names"
    return PgpathError(mask(f"cannot connect to {where}: {reason}", conninfo))


def connect(
    dsn: str | None, *, dbname: str | None = None, read_only: bool = True,
    application_name: str = "pgpath",
) -> psycopg.Connection[dict[str, Any]]:
    """Open a connection; reads run in one READ ONLY, REPEATABLE READ transaction."""
    conninfo = normalize_dsn(dsn)
    overrides: dict[str, Any] = {"application_name": application_name}
    if dbname is not None:
        overrides["dbname"] = dbname
    try:
        conninfo = make_conninfo(conninfo, **overrides)
    except psycopg.ProgrammingError as exc:
        raise PgpathError(f"invalid connection string: {first_line(exc)}") from None
    try:
        conn = psycopg.connect(conninfo, row_factory=dict_row, cursor_factory=_RecordingCursor)
    except psycopg.Error as exc:
        given = make_conninfo(normalize_dsn(dsn), **({"dbname": dbname} if dbname else {}))
        raise connection_error(exc, given) from None
    if read_only:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    return conn
