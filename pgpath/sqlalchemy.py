"""SQLAlchemy helpers: pin a search path on an engine, and check at start-up that the path a
role gets is the one the policy declares.

    engine = create_engine(url)
    pin_search_path(engine, ["alpha", "public"])          # every new connection
    assert_search_path(engine, policy="deploy/search_path.yaml")   # at start-up
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from psycopg import sql

from .errors import PgpathError
from .model import Scope
from .policy import Policy, load_policy_file
from .searchpath import SearchPath, as_search_path

__all__ = ["SearchPathMismatch", "assert_search_path", "expected_search_path",
           "pin_search_path"]


class SearchPathMismatch(PgpathError):
    """The engine's sessions do not get the search path they should."""


def _sync_engine(engine: Any) -> Any:
    return getattr(engine, "sync_engine", engine)  # AsyncEngine -> its Engine


def pin_search_path(engine: Any, path: SearchPath | str | Iterable[str]) -> None:
    """Set ``path`` once on every new connection of ``engine``, before the pool hands it out.

    The SET runs in autocommit mode, so the pool's rollback on return keeps it; every element
    is its own identifier (``"app, public"`` as a string is read with PostgreSQL's rules).
    """
    from sqlalchemy import event  # lazily: pgpath itself does not need SQLAlchemy

    statement = sql.SQL("SET SESSION search_path = {}").format(
        as_search_path(path).to_sql()).as_string(None)

    @event.listens_for(_sync_engine(engine), "connect")
    def _pin(dbapi_connection: Any, _record: Any) -> None:
        autocommit = getattr(dbapi_connection, "autocommit", None)
        if autocommit is not None:
            dbapi_connection.autocommit = True
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(statement)
            cursor.close()
            if autocommit is None:
                dbapi_connection.commit()
        finally:
            if autocommit is not None:
                dbapi_connection.autocommit = autocommit


def expected_search_path(policy: Policy, role: str, database: str) -> SearchPath | None:
    """What the policy says a session of ``role`` in ``database`` gets: its most specific
    scope that sets a path (None when the policy sets none that applies)."""
    for scope in (Scope(role, database), Scope(role), Scope(None, database), Scope()):
        path = policy.scopes.get(scope)
        if path is not None:
            return path
    return None


def _policy(policy: Policy | str | Path, target: str | None) -> Policy:
    if isinstance(policy, Policy):
        return policy
    found = load_policy_file(policy)
    chosen = found.select([target] if target else None)
    if len(chosen) != 1:
        raise PgpathError(f"{policy}: name one of its targets "
                          f"({', '.join(t.name for t in chosen)})")
    return chosen[0].policy


def assert_search_path(
    engine: Any,
    expected: SearchPath | str | Iterable[str] | None = None,
    *,
    policy: Policy | str | Path | None = None,
    target: str | None = None,
) -> SearchPath:
    """Open a connection and check its search path against ``expected`` or, with ``policy``,
    against what the policy declares for this engine's role and database (compared as
    parsed lists). Returns the path; raises SearchPathMismatch otherwise."""
    if (expected is None) == (policy is None):
        raise PgpathError("give either an expected path or a policy")
    from sqlalchemy import text

    sync = _sync_engine(engine)
    with sync.connect() as conn:
        raw, role, database = conn.execute(text(
            "SELECT current_setting('search_path'), current_user::text, "
            "current_database()::text")).one()
    actual = SearchPath.parse(raw)
    if policy is not None:
        wanted = expected_search_path(_policy(policy, target), role, database)
        if wanted is None:
            raise SearchPathMismatch(f"the policy sets no search path that applies to role "
                                     f"{role} in database {database}")
    else:
        wanted = as_search_path(expected)  # type: ignore[arg-type]
    if actual != wanted:
        raise SearchPathMismatch(f"role {role} in database {database} gets search_path "
                                 f"{actual.to_text()}, expected {wanted.to_text()}")
    return actual
