"""The read side: show, settings, resolve. Opens the connections, runs the catalog reads once,
hands the values to the pure resolver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from .audit import DatabaseFacts, Finding, Trust, audit
from .binds import Bind
from .catalog import Catalog
from .connection import connect
from .errors import PgpathError
from .model import Access, ClusterState, SessionInfo, Setting
from .models import ModelFinding, Models, check_models
from .resolve import Entry, Resolution, effective_entries, resolve, schemas_named
from .searchpath import SearchPath

Progress = Callable[[Iterator[Any], int, str], Iterator[Any]]


def _no_progress(items: Iterator[Any], total: int, label: str) -> Iterator[Any]:
    return items


@dataclass(frozen=True)
class ShowReport:
    session: SessionInfo
    entries: tuple[Entry, ...]

    @property
    def search_path(self) -> SearchPath:
        return SearchPath.parse(self.session.raw)


def show(conn: psycopg.Connection[Any]) -> ShowReport:
    """This connection's search path and how each entry fares (2 queries)."""
    catalog = Catalog(conn)
    session = catalog.session()
    path = SearchPath.parse(session.raw)
    access = catalog.schema_access([session.user], path)
    return ShowReport(session, effective_entries(path, session.user, access))


def settings(
    conn: psycopg.Connection[Any], role: str | None = None, database: str | None = None,
    all_parameters: bool = False,
) -> list[Setting]:
    """Stored settings, one per scope, optionally for one role and/or database (3 queries)."""
    catalog = Catalog(conn)
    rows = catalog.settings()
    _check_names(catalog, [role] if role else [], [database] if database else [])
    return [
        s for s in rows
        if (all_parameters or s.raw is not None)
        and (role is None or s.scope.role == role)
        and (database is None or s.scope.database == database)
    ]


def _check_names(catalog: Catalog, roles: list[str], databases: list[str],
                 state: ClusterState | None = None) -> None:
    known_roles = {r.name for r in (state.roles if state else catalog.roles())} if roles else set()
    known_dbs = ({d.name for d in (state.databases if state else catalog.databases())}
                 if databases else set())
    missing = [f"role {r!r}" for r in roles if r not in known_roles]
    missing += [f"database {d!r}" for d in databases if d not in known_dbs]
    if missing:
        raise PgpathError(f"no such {', '.join(missing)}")


def resolve_one(
    conn: psycopg.Connection[Any], dsn: str | None, role: str, database: str | None = None,
) -> Resolution:
    """What a new session of ``role`` in ``database`` gets (7 queries at most, 2 connections
    when ``database`` is not the connection's own)."""
    catalog = Catalog(conn)
    session = catalog.session()
    state = catalog.cluster_state(session)
    database = database or session.database
    _check_names(catalog, [role], [database], state)
    can_connect = role in catalog.connect_privileges().get(database, set())
    names = schemas_named(state)
    try:
        access = _access_in(conn, dsn, session.database, database, [role], names)
    except PgpathError as exc:
        result = resolve(state, role, database, None, can_connect)
        return Resolution(result.role, result.database, result.layers, None, can_connect,
                          (*result.notes, f"schemas not checked: {exc}"))
    return resolve(state, role, database, access, can_connect)


T = TypeVar("T")


def _in_database(conn: psycopg.Connection[Any], dsn: str | None, current: str,
                 database: str, read: Callable[[Catalog], T]) -> T:
    """Run ``read`` in ``database``: on this connection if it is the one it is on, else on
    a new connection to it."""
    if database == current:
        return read(Catalog(conn))
    with connect(dsn, dbname=database) as other:
        return read(Catalog(other))


def _access_in(conn: psycopg.Connection[Any], dsn: str | None, current: str, database: str,
               roles: list[str], names: set[str]) -> dict[tuple[str, str], Access]:
    return _in_database(conn, dsn, current, database,
                        lambda catalog: catalog.schema_access(roles, names))


def resolve_all(
    conn: psycopg.Connection[Any], dsn: str | None, progress: Progress = _no_progress,
) -> list[Resolution]:
    """Every login role x every database it may connect to: 6 cluster-wide queries, then one
    connection and one query per database."""
    catalog = Catalog(conn)
    session = catalog.session()
    state = catalog.cluster_state(session)
    allowed = catalog.connect_privileges()
    names = schemas_named(state)
    results: list[Resolution] = []
    databases = [d.name for d in state.databases if allowed.get(d.name)]
    for database in progress(iter(databases), len(databases), "databases"):
        roles = sorted(allowed[database])
        try:
            access = _access_in(conn, dsn, session.database, database, roles, names)
            note = None
        except PgpathError as exc:
            access, note = None, f"schemas not checked: {exc}"
        for role in roles:
            result = resolve(state, role, database, access)
            if note:
                result = Resolution(result.role, result.database, result.layers, None, True,
                                    (*result.notes, note))
            results.append(result)
    return results


def audit_cluster(
    conn: psycopg.Connection[Any], dsn: str | None, database: str | None = None,
    all_databases: bool = False, role: str | None = None, progress: Progress = _no_progress,
) -> list[Finding]:
    """Every finding for one database (default: the connection's) or all of them: 7
    cluster-wide queries, then one connection and 3 queries per database."""
    catalog = Catalog(conn)
    session = catalog.session()
    state = catalog.cluster_state(session)
    _check_names(catalog, [role] if role else [], [database] if database else [], state)
    allowed = catalog.connect_privileges()
    trust = Trust(catalog.memberships(),
                  frozenset(r.name for r in state.roles if r.superuser))
    names = schemas_named(state)
    targets = ([d.name for d in state.databases if d.allow_connections] if all_databases
               else [database or session.database])
    facts = []
    for name in progress(iter(targets), len(targets), "databases"):
        roles = sorted(allowed.get(name, set()) if role is None
                       else allowed.get(name, set()) & {role})

        def read(catalog: Catalog, roles: list[str] = roles) -> Any:
            return (catalog.schema_access(roles, names), catalog.schema_creators(),
                    catalog.functions())

        access, schemas, functions = _in_database(conn, dsn, session.database, name, read)
        owner = state.database(name).owner  # type: ignore[union-attr]
        facts.append(DatabaseFacts(name, owner, schemas, functions,
                                   tuple(resolve(state, r, name, access) for r in roles)))
    return audit(state, trust, allowed, facts, None if all_databases else set(targets), role)


def check_models_live(models: Models, binds: list[Bind]) -> list[ModelFinding]:
    """Connect as each bind the models use (2 queries each: the session's path, and which
    schemas hold tables of the models' names) and check the models against it."""
    by_name = {b.name: b for b in binds}
    missing = sorted(models.binds - set(by_name))
    if missing:
        raise PgpathError(f"no URL for bind {', '.join(missing)} in the configuration")
    paths: dict[str, tuple[str, ...]] = {}
    existing: dict[str, set[tuple[str, str]]] = {}
    for name in sorted(models.binds):
        tables = {t.name for t in models.tables if t.bind == name}
        with connect(by_name[name].conninfo) as conn:
            catalog = Catalog(conn)
            session = catalog.session()
            existing[name] = catalog.relations(tables)
        paths[name] = tuple(s for s in session.effective if not s.startswith("pg_temp_"))

    def same_database(a: str, b: str) -> bool:
        return by_name[a].cluster_database == by_name[b].cluster_database

    return check_models(models, paths, existing, same_database)
