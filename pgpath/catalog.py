"""Catalog reads: one query per ``sql/*.sql`` file, each run at most once per command."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from .errors import PgpathError
from .model import (
    Access,
    ClusterState,
    Database,
    Function,
    Role,
    SchemaInfo,
    Scope,
    ScopeKey,
    ServerDefault,
    SessionInfo,
    Setting,
    StoredState,
    stored_search_path,
)
from .searchpath import SearchPath


@cache
def load_query(name: str) -> sql.SQL:
    """The text of ``sql/<name>.sql`` (parameters stay bind parameters)."""
    text = resources.files("pgpath.sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")
    return sql.SQL(text.strip().rstrip(";"))  # type: ignore[arg-type]


class Catalog:
    """Reads over one connection; every method issues exactly one query."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def fetch(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            return list(self.conn.execute(load_query(name), params))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PgpathError(f"reading the catalog ({name}) needs a privilege: "
                              f"{exc.diag.message_primary}") from None

    def tuples(self, name: str) -> list[tuple[Any, ...]]:
        """Like ``fetch``, as tuples: for the queries that return a row per role or scope."""
        try:
            with self.conn.cursor(row_factory=tuple_row) as cur:
                return cur.execute(load_query(name)).fetchall()
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PgpathError(f"reading the catalog ({name}) needs a privilege: "
                              f"{exc.diag.message_primary}") from None

    def session(self) -> SessionInfo:
        row = self.fetch("session")[0]
        row["effective"] = tuple(row["effective"])
        row["effective_explicit"] = tuple(row["effective_explicit"])
        return SessionInfo(**row)

    def settings(self) -> tuple[Setting, ...]:
        return tuple(Setting.from_setconfig(Scope(role, database), setconfig)
                     for role, database, setconfig in self.tuples("settings"))

    def stored_paths(self) -> dict[ScopeKey, SearchPath]:
        """(role, database) -> the search_path stored there, for every scope storing one
        (without building a Setting per scope: diffs and applies read thousands)."""
        paths: dict[ScopeKey, SearchPath] = {}
        by_entry: dict[str, SearchPath] = {}  # thousands of scopes store the same few entries
        for role, database, setconfig in self.tuples("settings"):
            entry = setconfig[0] if setconfig and len(setconfig) == 1 else None
            path = by_entry.get(entry) if entry else None
            if path is None:
                raw = stored_search_path(setconfig)
                if raw is None:
                    continue
                path = SearchPath.parse(raw)
                if entry:
                    by_entry[entry] = path
            paths[(role, database)] = path
        return paths

    def stored_state(self) -> StoredState:
        """Stored paths and the names of roles and databases: what a diff needs, no more."""
        names: dict[str, set[str]] = {"role": set(), "database": set()}
        for kind, name in self.tuples("names"):
            names[kind].add(name)
        return StoredState(self.stored_paths(), frozenset(names["role"]),
                           frozenset(names["database"]))

    def roles(self) -> tuple[Role, ...]:
        return tuple(Role(*r) for r in self.tuples("roles"))

    def databases(self) -> tuple[Database, ...]:
        return tuple(Database(*r) for r in self.tuples("databases"))

    def connect_privileges(self) -> dict[str, set[str]]:
        """database -> login roles holding CONNECT on it."""
        allowed: dict[str, set[str]] = defaultdict(set)
        for row in self.fetch("connect_privileges"):
            allowed[row["database"]].add(row["role"])
        return allowed

    def schema_access(
        self, roles: Iterable[str], schemas: Iterable[str]
    ) -> dict[tuple[str, str], Access]:
        """(role, schema) -> Access, in the connected database, for the named schemas and
        each role's own-named schema. A pair that is absent names no schema."""
        rows = self.fetch("schema_access", {"roles": sorted(set(roles)),
                                            "schemas": sorted(set(schemas))})
        return {
            (r["role"], r["schema"]): Access(exists=True, usage=r["usage"], create=r["create"])
            for r in rows
        }

    def memberships(self) -> dict[str, frozenset[str]]:
        """role -> every role it is a member of, directly or not."""
        groups: dict[str, set[str]] = defaultdict(set)
        for row in self.fetch("memberships"):
            groups[row["member"]].add(row["role"])
        return {member: frozenset(roles) for member, roles in groups.items()}

    def schema_creators(self) -> dict[str, SchemaInfo]:
        """In the connected database: schema -> its owner and CREATE grantees."""
        return {r["schema"]: SchemaInfo(r["owner"], frozenset(r["creators"]))
                for r in self.fetch("schema_creators")}

    def functions(self) -> tuple[Function, ...]:
        """In the connected database: user functions and procedures, not extensions'."""
        return tuple(Function(r["signature"], r["schema"], r["owner"], r["security_definer"],
                              tuple(r["config"]) if r["config"] is not None else None)
                     for r in self.fetch("functions"))

    def relations(self, names: Iterable[str]) -> set[tuple[str, str]]:
        """In the connected database: (schema, name) of each table or view so named."""
        return {(r["schema"], r["name"])
                for r in self.fetch("relations", {"names": sorted(set(names))})}

    def server_default(self, session: SessionInfo) -> ServerDefault:
        """What a session gets with no stored setting: the configuration files' value, else
        the built-in default. Exact only when it can be read."""
        if session.can_read_file_settings:
            rows = self.fetch("file_settings")
            if rows:
                row = rows[0]
                return ServerDefault(row["setting"], "configuration file", True,
                                     f"{row['sourcefile']}:{row['sourceline']}")
            if session.source == "command line":
                return ServerDefault(session.reset_val, "command line", True)
            return ServerDefault(session.boot_val, "default", True)
        if session.source in ("default", "configuration file", "command line",
                              "environment variable"):
            # Nothing stored applied to this connection, so its reset value is the server's.
            return ServerDefault(session.reset_val, session.source, True)
        return ServerDefault(
            session.boot_val, "default", False,
            "cannot read pg_file_settings (needs superuser or pg_read_all_settings): "
            "showing the built-in default; postgresql.conf may set another",
        )

    def cluster_state(self, session: SessionInfo | None = None) -> ClusterState:
        session = session or self.session()
        return ClusterState(
            settings=self.settings(),
            roles=self.roles(),
            databases=self.databases(),
            server=self.server_default(session),
            server_version=session.server_version,
        )
