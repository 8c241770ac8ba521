"""What a new session of a role in a database gets, and why (pure: no I/O).

At login PostgreSQL applies the first stored setting it finds, in this order: the role in
that database, the role, the database, all roles; failing all of them the server's value.
Settings are not inherited through role membership. The resulting list is then looked up in
that database: ``$user`` becomes the role's name if such a schema exists and the role may use
it, names of missing or unusable schemas are skipped, ``pg_catalog`` is searched first unless
listed, and the session's temporary schema first of all (for tables and types only) unless
``pg_temp`` is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .model import Access, ClusterState, Level, Scope
from .searchpath import USER_ELEMENT, SearchPath

CATALOG_SCHEMA = "pg_catalog"
TEMP_ALIAS = "pg_temp"
STORED_LEVELS = (Level.ROLE_IN_DATABASE, Level.ROLE, Level.DATABASE, Level.ALL_ROLES)


@dataclass(frozen=True)
class Layer:
    """One place a value may come from, in precedence order."""

    level: Level
    scope: Scope | None  # None for the server level
    raw: str | None  # None: nothing stored here
    wins: bool
    note: str | None = None

    @cached_property
    def search_path(self) -> SearchPath | None:
        return None if self.raw is None else SearchPath.parse(self.raw)


@dataclass(frozen=True)
class Entry:
    """One element of the effective path in the target database."""

    element: str | None  # as listed; None for an implicit entry
    schema: str | None  # the schema it names ($user expanded); None when it names none
    exists: bool
    usage: bool
    create: bool
    searched: bool
    implicit: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Resolution:
    role: str
    database: str
    layers: tuple[Layer, ...]
    entries: tuple[Entry, ...] | None  # None when the database could not be inspected
    can_connect: bool
    notes: tuple[str, ...] = ()

    @property
    def winner(self) -> Layer:
        return next(layer for layer in self.layers if layer.wins)

    @property
    def source(self) -> Level:
        return self.winner.level

    @property
    def search_path(self) -> SearchPath:
        path = self.winner.search_path
        assert path is not None
        return path

    @property
    def effective(self) -> tuple[str, ...] | None:
        """The schemas searched, in order (as ``current_schemas(true)`` would list them before
        the session creates a temporary object)."""
        if self.entries is None:
            return None
        return tuple(e.schema for e in self.entries
                     if e.searched and e.schema and e.element != TEMP_ALIAS
                     and not (e.implicit and e.schema == TEMP_ALIAS))


def layers_for(state: ClusterState, role: str, database: str) -> tuple[Layer, ...]:
    """The five levels for (role, database), the first stored one marked as the winner."""
    layers: list[Layer] = []
    won = False
    for level in STORED_LEVELS:
        scope = Scope.for_level(level, role, database)
        setting = state.setting(scope)
        raw = setting.raw if setting else None
        wins = raw is not None and not won
        won = won or wins
        layers.append(Layer(level, scope, raw, wins))
    server = state.server
    layers.append(Layer(Level.SERVER, None, server.raw, not won,
                        note=None if server.exact and not server.note else server.note))
    return tuple(layers)


def effective_entries(
    path: SearchPath, role: str, access: dict[tuple[str, str], Access]
) -> tuple[Entry, ...]:
    """The path as a session of ``role`` searches it, given that database's schemas."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for element in path:
        if element == TEMP_ALIAS:
            entries.append(Entry(element, TEMP_ALIAS, exists=True, usage=True, create=True,
                                 searched=element not in seen,
                                 note="the session's temporary schema, for tables and types"))
            seen.add(element)
            continue
        schema = role if element == USER_ELEMENT else element
        got = access.get((role, schema), Access(exists=False))
        searched = got.exists and got.usage and schema not in seen
        note = None
        if not got.exists:
            note = (f"no schema named {role!r}: skipped" if element == USER_ELEMENT
                    else "no such schema: skipped")
        elif not got.usage:
            note = "no USAGE privilege: skipped"
        elif schema in seen:
            note = "listed earlier: skipped"
        if searched:
            seen.add(schema)
        entries.append(Entry(element, schema if got.exists else None, got.exists, got.usage,
                             got.create, searched, note=note))
    implicit: list[Entry] = []
    if TEMP_ALIAS not in seen:
        implicit.append(Entry(None, TEMP_ALIAS, exists=True, usage=True, create=True,
                              searched=True, implicit=True,
                              note="implicit, first for tables and types: the session's "
                                   "temporary schema, once created"))
    if CATALOG_SCHEMA not in seen:
        implicit.append(Entry(None, CATALOG_SCHEMA, exists=True, usage=True, create=False,
                              searched=True, implicit=True,
                              note="implicit: searched before the listed schemas"))
    return (*implicit, *entries)


def resolve(
    state: ClusterState,
    role: str,
    database: str,
    access: dict[tuple[str, str], Access] | None,
    can_connect: bool = True,
) -> Resolution:
    """Resolve one (role, database) pair. ``access`` is None when the database's schemas
    could not be read; the stored-settings part is exact regardless."""
    layers = layers_for(state, role, database)
    winner = next(layer for layer in layers if layer.wins)
    assert winner.search_path is not None
    entries = (None if access is None
               else effective_entries(winner.search_path, role, access))
    notes: list[str] = []
    known = state.role(role)
    if known is not None and not known.can_login:
        notes.append(f"role {role} cannot log in (NOLOGIN): no session ever gets this path")
    if not can_connect:
        notes.append(f"role {role} has no CONNECT privilege on database {database}")
    db = state.database(database)
    if db is not None and not db.allow_connections:
        notes.append(f"database {database} does not accept connections")
    if winner.note:
        notes.append(winner.note)
    return Resolution(role, database, layers, entries, can_connect, tuple(notes))


def schemas_named(state: ClusterState) -> set[str]:
    """Every schema name any stored or server path mentions (for one access query)."""
    names = {s for setting in state.settings if setting.search_path for s in setting.search_path}
    names.update(state.server.search_path)
    names.discard(USER_ELEMENT)
    names.discard(TEMP_ALIAS)
    return names
