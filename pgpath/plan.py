"""Differences between the live settings and a policy, as changes (pure: no I/O).

A ``Change`` carries its scope, the value before and after, and its composed statement:
enough to describe it, run it, and invert it for rollback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from psycopg import sql

from . import jsonio
from .errors import PgpathError
from .jsonio import Encoded
from .model import ClusterState, Scope, StoredState
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
_END = sql.SQL(";\n")


def alter_statement(scope: Scope, path: SearchPath | None) -> sql.Composed:
    """``ALTER ... SET search_path = a, b`` (one identifier per element) or ``... RESET``."""
    return sql.Composed([*_target(scope), _assignment(path)])


def _target(scope: Scope) -> list[sql.Composable]:
    """``ALTER ROLE r [IN DATABASE d]``, ``ALTER DATABASE d`` or ``ALTER ROLE ALL``.

    Built from parts rather than ``SQL.format``: apply composes one per changed scope, and
    thousands of format-string parses add up.
    """
    role, database = scope.role, scope.database
    if role is None:
        if database is None:
            return [_ALTER_ALL]
        return [_ALTER_DATABASE, sql.Identifier(database)]
    if database is None:
        return [_ALTER_ROLE, sql.Identifier(role)]
    return [_ALTER_ROLE, sql.Identifier(role), _IN_DATABASE, sql.Identifier(database)]


@lru_cache(maxsize=1024)
def _assignment(path: SearchPath | None) -> sql.SQL:
    """`` SET search_path = a, b`` or `` RESET search_path``, composed once per path: a deploy
    changes thousands of scopes to a few paths.

    Identifiers are quoted by doubling their quotes, which does not depend on the client
    encoding, so the composed text is valid on any connection.
    """
    if path is None:
        return _RESET
    return sql.SQL(sql.Composed([_SET, path.to_sql()]).as_string(None))  # type: ignore[arg-type]


def script(changes: Iterable[Change]) -> sql.Composed:
    """The statements as one script, each ended by ``;`` and a newline (one flat list of
    parts: composing 10,000 statements is a measurable share of an apply)."""
    parts: list[sql.Composable] = []
    for c in changes:
        parts += _target(c.scope)
        parts.append(_terminated(c.after))
    return sql.Composed(parts)


@lru_cache(maxsize=1024)
def _terminated(path: SearchPath | None) -> sql.SQL:
    """``_assignment(path)`` and the statement's end, as one part."""
    return sql.SQL(sql.Composed([_assignment(path), _END]).as_string(None))  # type: ignore[arg-type]


def missing_objects(policy: Policy, state: ClusterState | StoredState) -> list[str]:
    roles = sorted(policy.roles - state.role_names)
    dbs = sorted(policy.databases - state.database_names)
    return [f"role {r!r}" for r in roles] + [f"database {d!r}" for d in dbs]


def diff(policy: Policy, state: ClusterState | StoredState) -> list[Change]:
    """What must change for the cluster to match the policy, compared as parsed lists.
    Raises if the policy names roles or databases the cluster lacks (all of them at once)."""
    missing = missing_objects(policy, state)
    if missing:
        raise PgpathError(f"{policy.source}: the cluster has no {', '.join(missing)}")
    current = state.paths
    changes: list[Change] = []
    for scope, wanted in policy.scopes.items():
        have = current.get((scope.role, scope.database))
        # Compared as name tuples (in C) rather than SearchPath objects.
        if (None if have is None else have.schemas) != (
                None if wanted is None else wanted.schemas):
            changes.append(Change(scope, have, wanted))
    if policy.unmanaged == "reset":
        for (role, database), have in current.items():
            if (scope := Scope(role, database)) not in policy.scopes:
                changes.append(Change(scope, have, None))
    return sorted(changes, key=lambda c: c.scope.sort_key())


def export_policy(state: ClusterState | StoredState) -> Policy:
    """The live settings as a policy that, applied anywhere, reproduces them."""
    return Policy({Scope(role, database): path
                   for (role, database), path in state.paths.items()},
                  "keep", "<export>")


def path_doc(path: SearchPath | None) -> list[str] | None:
    return None if path is None else list(path.schemas)


def change_doc(change: Change) -> dict[str, Any]:
    return {"action": change.action, "role": change.scope.role,
            "database": change.scope.database, "from": path_doc(change.before),
            "to": path_doc(change.after)}


def changes_json(changes: Iterable[Change]) -> Encoded:
    """``change_doc`` of every change, as the JSON text the encoder would write for it.

    Written directly: encoding 10,000 dicts is a visible share of a diff, and a deploy's
    changes share a few paths, each encoded once here.
    """
    string = json.encoder.encode_basestring  # what the encoder uses for each string
    paths: dict[SearchPath | None, str] = {}

    def path(value: SearchPath | None) -> str:
        text = paths.get(value)
        if text is None:
            text = paths[value] = jsonio.encode(path_doc(value))
        return text

    return Encoded([
        f'{{"action": "{c.action}", '
        f'"role": {"null" if c.scope.role is None else string(c.scope.role)}, '
        f'"database": {"null" if c.scope.database is None else string(c.scope.database)}, '
        f'"from": {path(c.before)}, "to": {path(c.after)}}}'
        for c in changes])


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
