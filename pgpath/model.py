"""Values read from the catalog: scopes, stored settings, roles, databases, the server default."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property

from .searchpath import SearchPath

PARAMETER = "search_path"
_PREFIX = PARAMETER + "="


class Level(str, Enum):
    """Where a session's search_path comes from, highest precedence first."""

    ROLE_IN_DATABASE = "role in database"
    ROLE = "role"
    DATABASE = "database"
    ALL_ROLES = "all roles"
    SERVER = "server"


class Severity(str, Enum):
    """How much an audit or model finding matters."""

    error = "error"
    warning = "warning"
    info = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


# A scope as (role, database): the key of the maps that hold thousands of scopes (plain
# tuples hash and compare in C; Scope's dataclass methods run in Python).
ScopeKey = tuple[str | None, str | None]


def key_order(key: ScopeKey) -> tuple[bool, str, bool, str]:
    """``Scope.sort_key`` of a (role, database) key."""
    role, database = key
    return role is not None, role or "", database is not None, database or ""


@dataclass(frozen=True, order=True)
class Scope:
    """A row of ``pg_db_role_setting``: ``None`` stands for all roles / all databases."""

    role: str | None = None
    database: str | None = None

    @property
    def level(self) -> Level:
        if self.role is not None:
            return Level.ROLE_IN_DATABASE if self.database is not None else Level.ROLE
        return Level.DATABASE if self.database is not None else Level.ALL_ROLES

    def sort_key(self) -> tuple[bool, str, bool, str]:
        """All roles first, then by role; all databases first, then by database (as ``\\drds``)."""
        return key_order((self.role, self.database))

    def __str__(self) -> str:
        if self.level is Level.ROLE_IN_DATABASE:
            return f"role {self.role} in database {self.database}"
        if self.level is Level.ROLE:
            return f"role {self.role}"
        if self.level is Level.DATABASE:
            return f"database {self.database}"
        return "all roles"

    @classmethod
    def for_level(cls, level: Level, role: str, database: str) -> Scope:
        return {
            Level.ROLE_IN_DATABASE: cls(role, database),
            Level.ROLE: cls(role, None),
            Level.DATABASE: cls(None, database),
            Level.ALL_ROLES: cls(None, None),
        }[level]


def split_config(entries: list[str] | None) -> dict[str, str]:
    """``setconfig`` / ``proconfig`` entries (``name=value``) as a dict, in order."""
    config: dict[str, str] = {}
    for entry in entries or ():
        name, _, value = entry.partition("=")
        config[name] = value
    return config


@dataclass(frozen=True)
class Setting:
    """One scope's stored configuration: its search_path (``None`` when it stores none) and
    its other parameters, which pgpath reads but never changes."""

    scope: Scope
    raw: str | None
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def search_path(self) -> SearchPath | None:
        # A plain property: parsing is cached by text, and clusters hold few distinct values.
        return None if self.raw is None else SearchPath.parse(self.raw)

    @classmethod
    def from_setconfig(cls, scope: Scope, setconfig: list[str] | None) -> Setting:
        config = split_config(setconfig)
        raw = config.pop(PARAMETER, None)
        return cls(scope, raw, tuple(config.items()))


def stored_search_path(setconfig: list[str] | None) -> str | None:
    """The search_path entry of a ``setconfig`` array, if it has one."""
    if setconfig and len(setconfig) == 1:
        entry = setconfig[0]
        return entry[len(_PREFIX):] if entry.startswith(_PREFIX) else None
    return split_config(setconfig).get(PARAMETER)


@dataclass(frozen=True)
class Role:
    name: str
    can_login: bool
    superuser: bool


@dataclass(frozen=True)
class Database:
    name: str
    allow_connections: bool
    is_template: bool
    owner: str = ""


@dataclass(frozen=True)
class ServerDefault:
    """The value a session gets when no stored setting applies.

    ``exact`` is false when it could not be read (no access to ``pg_file_settings``, or the
    connection's own value hides it); the built-in default is shown then, with a note.
    """

    raw: str
    source: str
    exact: bool
    note: str | None = None

    @cached_property
    def search_path(self) -> SearchPath:
        return SearchPath.parse(self.raw)


@dataclass(frozen=True)
class SessionInfo:
    """What ``SHOW search_path`` and friends say about the current connection."""

    user: str
    session_user: str
    database: str
    raw: str
    source: str
    boot_val: str
    reset_val: str
    effective: tuple[str, ...]
    effective_explicit: tuple[str, ...]
    server_version: int
    can_read_file_settings: bool
    temp_schema: str | None = None


@dataclass(frozen=True)
class Access:
    """A schema as one role sees it in one database."""

    exists: bool
    usage: bool = False
    create: bool = False




@dataclass(frozen=True)
class StoredState:
    """What a diff needs: the search_path stored at each scope that has one, and which roles
    and databases exist."""

    paths: dict[ScopeKey, SearchPath]
    role_names: frozenset[str]
    database_names: frozenset[str]


@dataclass(frozen=True)
class ClusterState:
    """Everything cluster-wide that resolution needs, read once per command."""

    settings: tuple[Setting, ...]
    roles: tuple[Role, ...]
    databases: tuple[Database, ...]
    server: ServerDefault
    server_version: int

    # Indexes, built on first use (a diff never looks a setting up by scope).
    @cached_property
    def _by_scope(self) -> dict[Scope, Setting]:
        return {s.scope: s for s in self.settings}

    @cached_property
    def _roles(self) -> dict[str, Role]:
        return {r.name: r for r in self.roles}

    @cached_property
    def _databases(self) -> dict[str, Database]:
        return {d.name: d for d in self.databases}

    @cached_property
    def paths(self) -> dict[ScopeKey, SearchPath]:
        """As ``StoredState.paths``."""
        return {(s.scope.role, s.scope.database): path for s in self.settings
                if (path := s.search_path) is not None}

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(self._roles)

    @property
    def database_names(self) -> frozenset[str]:
        return frozenset(self._databases)

    def setting(self, scope: Scope) -> Setting | None:
        return self._by_scope.get(scope)

    def role(self, name: str) -> Role | None:
        return self._roles.get(name)

    def database(self, name: str) -> Database | None:
        return self._databases.get(name)


@dataclass(frozen=True)
class SchemaInfo:
    """A schema in one database: its owner and the grantees of CREATE (None is PUBLIC)."""

    owner: str
    creators: frozenset[str | None]


@dataclass(frozen=True)
class Function:
    signature: str
    schema: str
    owner: str
    security_definer: bool
    config: tuple[str, ...] | None
