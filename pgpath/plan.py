"""Differences between the live settings and a policy, as changes (pure: no I/O).

A ``Change`` carries its scope, the value before and after, and its composed statement:
enough to describe it, run it, and invert it for rollback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from .errors import PgpathError
from .model import ClusterState, Level, Scope, Setting
from .policy import Policy
from .searchpath import SearchPath


@dataclass(frozen=True)
class Change:
    scope: Scope
    before: SearchPath | None  # None: no setting
    after: SearchPath | None  # None: RESET

    @property
    def action(self) -> str:
        return "reset" if self.after is None else "set"

    def statement(self) -> sql.Composed:
        """``ALTER ... SET search_path = a, b`` (one identifier per element) or ``RESET``."""
        return alter_statement(self.scope, self.after)

    def inverse(self) -> Change:
        return Change(self.scope, self.after, self.before)


_ALTER_ROLE = sql.SQL("ALTER ROLE ")
_IN_DATABASE = sql.SQL(" IN DATABASE ")
_ALTER_DATABASE = sql.SQL("ALTER DATABASE ")
_ALTER_ALL = sql.SQL("ALTER ROLE ALL")
_SET = sql.SQL(" SET search_path = ")
# RESET search_path only: RESET ALL would wipe the scope's other parameters.
_RESET = sql.SQL(" RESET search_path")


def alter_statement(scope: Scope, path: SearchPath | None) -> sql.Composed:
    """``ALTER ... SET search_path = a, b`` (one identifier per element) or ``... RESET``.

    Built from parts rather than ``SQL.format``: apply composes one per changed scope, and
    thousands of format-string parses add up.
    """
    level = scope.level
    if level is Level.ALL_ROLES:
        parts: list[sql.Composable] = [_ALTER_ALL]
    elif level is Level.DATABASE:
        parts = [_ALTER_DATABASE, sql.Identifier(scope.database)]  # type: ignore[arg-type]
    else:
        parts = [_ALTER_ROLE, sql.Identifier(scope.role)]  # type: ignore[arg-type]
        if level is Level.ROLE_IN_DATABASE:
            parts += [_IN_DATABASE, sql.Identifier(scope.database)]  # type: ignore[arg-type]
    parts += [_RESET] if path is None else [_SET, path.to_sql()]
    return sql.Composed(parts)


def script(changes: Iterable[Change]) -> sql.Composed:
    """The statements as one script, each ended by ``;`` and a newline."""
    end = sql.SQL(";\n")
    return sql.Composed([part for c in changes for part in (c.statement(), end)])


def current_paths(settings: Iterable[Setting]) -> dict[Scope, SearchPath]:
    """Every scope that stores a search_path, with its parsed value."""
    return {s.scope: s.search_path for s in settings if s.search_path is not None}


def missing_objects(policy: Policy, state: ClusterState) -> list[str]:
    roles = sorted(r for r in policy.roles if state.role(r) is None)
    dbs = sorted(d for d in policy.databases if state.database(d) is None)
    return [f"role {r!r}" for r in roles] + [f"database {d!r}" for d in dbs]


def diff(policy: Policy, state: ClusterState) -> list[Change]:
    """What must change for the cluster to match the policy, compared as parsed lists.
    Raises if the policy names roles or databases the cluster lacks (all of them at once)."""
    missing = missing_objects(policy, state)
    if missing:
        raise PgpathError(f"{policy.source}: the cluster has no {', '.join(missing)}")
    current = current_paths(state.settings)
    changes: list[Change] = []
    for scope, wanted in policy.scopes.items():
        have = current.get(scope)
        if have != wanted:
            changes.append(Change(scope, have, wanted))
    if policy.unmanaged == "reset":
        changes.extend(Change(scope, have, None) for scope, have in current.items()
                       if scope not in policy.scopes)
    return sorted(changes, key=lambda c: c.scope.sort_key())


def export_policy(state: ClusterState) -> Policy:
    """The live settings as a policy that, applied anywhere, reproduces them."""
    return Policy(dict(current_paths(state.settings)), "keep", "<export>")


def path_doc(path: SearchPath | None) -> list[str] | None:
    return None if path is None else list(path.schemas)


def change_doc(change: Change) -> dict[str, Any]:
    return {"action": change.action, "role": change.scope.role,
            "database": change.scope.database, "from": path_doc(change.before),
            "to": path_doc(change.after)}


def change_from_doc(doc: dict[str, Any]) -> Change:
    """The inverse of change_doc, for plans and snapshots read from disk."""
    def path(value: Any) -> SearchPath | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"not a list of names: {value!r}")
        return SearchPath(tuple(value))

    role, database = doc["role"], doc["database"]
    if not all(v is None or isinstance(v, str) for v in (role, database)):
        raise ValueError("role and database must be strings or null")
    return Change(Scope(role, database), path(doc["from"]), path(doc["to"]))
