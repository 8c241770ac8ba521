"""The one place that writes: changes run in one transaction under an advisory lock.

Under the lock the state is read again; if it is not what the caller saw, nothing is changed.
Before COMMIT a rollback snapshot (the previous value, or none, of every touched scope, and
the cluster's identity) is written and flushed to disk. After COMMIT the settings are read
back and compared with what was asked.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .catalog import Catalog
from .connection import connect, describe, first_line, normalize_dsn
from .errors import ExitCode, PgpathError
from .jsonio import dump_json
from .model import Level, Scope, ScopeKey, key_order
from .plan import Change, change_from_doc, changes_json, diff, script
from .policy import Policy
from .searchpath import SearchPath

LOCK_KEY = 0x7067_7061_7468  # "pgpath"
SNAPSHOT_FORMAT = 1
PLAN_FORMAT = 1

Targets = Mapping[Scope, SearchPath | None]


@dataclass(frozen=True)
class Identity:
    system_identifier: str
    where: str

    def doc(self) -> dict[str, str]:
        return {"system_identifier": self.system_identifier, "where": self.where}

    def check(self, other: Mapping[str, Any], what: str) -> None:
        if other.get("system_identifier") != self.system_identifier:
            raise PgpathError(
                f"{what} was made on another cluster ({other.get('where', '?')}, system "
                f"identifier {other.get('system_identifier')}); this is {self.where} "
                f"({self.system_identifier})")


@dataclass(frozen=True)
class Outcome:
    changes: tuple[Change, ...]
    snapshot: Path | None
    verified: bool


def identity(conn: psycopg.Connection[Any], dsn: str | None) -> Identity:
    row = Catalog(conn).fetch("identity")[0]
    return Identity(row["system_identifier"], describe(normalize_dsn(dsn)))


def state_doc(paths: Mapping[ScopeKey, SearchPath]) -> list[list[Any]]:
    """Every stored search_path, sorted as ``Scope.sort_key``: what a plan saw, to compare
    under the lock."""
    return [[role, database, list(paths[role, database].schemas)]
            for role, database in sorted(paths, key=key_order)]



_NEEDS = {
    Level.ROLE_IN_DATABASE: "superuser, or CREATEROLE (with ADMIN OPTION on the role from "
                            "PostgreSQL 16)",
    Level.ROLE: "superuser, or CREATEROLE (with ADMIN OPTION on the role from PostgreSQL 16); "
                "a role may change its own",
    Level.DATABASE: "ownership of the database, or superuser",
    Level.ALL_ROLES: "superuser",
}


def _statement_error(change: Change, exc: psycopg.Error, conn: psycopg.Connection[Any]) -> str:
    text = change.statement().as_string(conn)
    reason = exc.diag.message_primary or first_line(exc)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return f"{text}: {reason} (needs {_NEEDS[change.scope.level]}); nothing was changed"
    return f"{text}: {reason}; nothing was changed"


def _diagnose(conn: psycopg.Connection[Any], changes: tuple[Change, ...],
              error: psycopg.Error) -> str:
    """Run the statements one by one, in a transaction rolled back whatever happens, to name
    the one that fails."""
    try:
        for change in changes:
            try:
                conn.execute(change.statement())
            except psycopg.Error as exc:
                return _statement_error(change, exc, conn)
    finally:
        conn.rollback()
    reason = error.diag.message_primary or first_line(error)
    return f"{reason}; nothing was changed"


def _write_snapshot(directory: Path, doc: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}-{doc['kind']}-{uuid.uuid4().hex[:8]}.json"
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(dump_json(doc) + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(path)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _discard(pending: Future[Path]) -> None:
    """Remove the snapshot of a transaction that will not commit, once it is written."""
    with contextlib.suppress(OSError):
        pending.result().unlink()


def execute(
    dsn: str | None,
    targets: Targets | Policy,
    *,
    kind: str,
    snapshot_dir: Path,
    expected_state: list[list[Any]] | None = None,
    expected_cluster: Mapping[str, Any] | None = None,
    lock_timeout: str = "10s",
    extra: Mapping[str, Any] | None = None,
) -> Outcome:
    """Bring every scope in ``targets`` to its value (None: RESET) in one transaction.

    ``targets`` may be a policy, diffed against the state read under the lock (nothing can
    change between the diff and the statements). ``expected_state``: the state the caller
    showed the user; if the cluster no longer has it, refuse (exit 3) without changing
    anything. Scopes already at their target are left alone, so running the same targets
    twice is harmless. After COMMIT the same connection reads the settings back. ``extra``
    goes into the snapshot.
    """
    with connect(dsn, read_only=False) as conn:
        ident = identity(conn, dsn)
        if expected_cluster is not None:
            ident.check(expected_cluster, "this plan or snapshot")
        catalog = Catalog(conn)
        try:
            catalog.fetch("lock_timeout", {"timeout": lock_timeout})
            catalog.fetch("lock", {"key": LOCK_KEY})
        except psycopg.errors.LockNotAvailable:
            raise PgpathError(f"another pgpath change holds the lock on {ident.where} "
                              f"(waited {lock_timeout}); nothing was changed") from None
        except psycopg.errors.InvalidParameterValue as exc:
            raise PgpathError(f"--lock-timeout {lock_timeout!r}: "
                              f"{exc.diag.message_primary}") from None
        if isinstance(targets, Policy):
            changes = tuple(diff(targets, catalog.stored_state()))
            targets = {c.scope: c.after for c in changes}
        else:
            current = catalog.stored_paths()
            if expected_state is not None and state_doc(current) != expected_state:
                raise PgpathError("the settings changed since they were read (another deploy "
                                  "or manual change?); nothing was changed: diff again",
                                  ExitCode.UNSAFE)
            changes = tuple(Change(scope, have, target)
                            for scope, target in sorted(targets.items(),
                                                        key=lambda kv: kv[0].sort_key())
                            if (have := current.get((scope.role, scope.database))) != target)
        if not changes:
            conn.rollback()
            return Outcome((), None, True)
        doc = {"pgpath_snapshot": SNAPSHOT_FORMAT, "kind": kind,
               "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               **(extra or {}), "cluster": ident.doc(), "changes": changes_json(changes)}
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The snapshot is written and flushed while the server runs the statements: it
            # is on disk before COMMIT either way.
            pending = pool.submit(_write_snapshot, snapshot_dir, doc)
            failure: psycopg.Error | None = None
            unwritable: OSError | None = None
            try:
                # One round trip for all statements (on failure, find which one failed).
                # Rendered once without the connection, then encoded once: quoting doubles
                # quotes, whatever the client encoding, and it halves the cost of composing
                # 10,000 statements against the connection.
                conn.execute(sql.SQL(script(changes).as_string(None)))  # type: ignore[arg-type]
            except psycopg.Error as exc:
                failure = exc
            except BaseException:  # interrupted: the transaction is not committed
                _discard(pending)
                raise
            try:
                snapshot: Path | None = pending.result()
            except OSError as exc:
                snapshot, unwritable = None, exc
        if failure is not None:
            if snapshot is not None:
                _discard(pending)
            if isinstance(failure, psycopg.OperationalError) or conn.closed:
                raise PgpathError("connection lost while running the changes; the "
                                  "transaction was not committed") from None
            conn.rollback()
            raise PgpathError(_diagnose(conn, changes, failure)) from None
        if snapshot is None:
            conn.rollback()
            reason = getattr(unwritable, "strerror", None) or unwritable
            raise PgpathError(f"cannot write the rollback snapshot in {snapshot_dir}: "
                              f"{reason}; nothing was changed")
        try:
            conn.commit()
        except psycopg.Error as exc:
            with contextlib.suppress(OSError):
                snapshot.unlink()
            raise PgpathError(f"COMMIT failed ({first_line(exc)}); if the "
                              "connection died during COMMIT, run `pgpath diff` to see "
                              "whether it took effect") from None
        verified = verify(catalog, targets)
    return Outcome(changes, snapshot, verified)


def verify(catalog: Catalog, targets: Targets) -> bool:
    """Read back after COMMIT, on the connection that committed (a replica could lag): does
    every scope hold what was asked?"""
    try:
        current = catalog.stored_paths()
    finally:
        catalog.conn.rollback()
    return all(current.get((scope.role, scope.database)) == target
               for scope, target in targets.items())


def read_changes(path: Path, doc: dict[str, Any], what: str) -> list[Change]:
    try:
        cluster = doc["cluster"]
        if not isinstance(cluster, dict) or not isinstance(doc["changes"], list):
            raise ValueError("bad structure")
        return [change_from_doc(c) for c in doc["changes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise PgpathError(f"{path}: corrupt {what}: {exc}") from None


def rollback_targets(changes: list[Change]) -> dict[Scope, SearchPath | None]:
    """The value every touched scope had before (None: it had no setting)."""
    return {c.scope: c.before for c in changes}


def wait_note() -> str:
    return ("only new sessions see the change: existing connections (and pooled ones) keep "
            "their search_path until they reconnect")
