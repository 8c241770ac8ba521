"""Policy deploys: diff, plan, apply, rollback and one-scope set/reset, over the executor."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Generic, TypeVar

import psycopg

from .catalog import Catalog
from .connection import connect, first_line
from .errors import PgpathError
from .executor import (
    PLAN_FORMAT,
    Identity,
    Outcome,
    execute,
    identity,
    read_changes,
    rollback_targets,
    state_doc,
)
from .jsonio import read_json
from .model import Scope, StoredState
from .plan import Change, change_doc, diff, export_policy
from .policy import Endpoint, Policy, Target, read_text
from .searchpath import SearchPath


@dataclass(frozen=True)
class Plan:
    """Changes, with the cluster and the state they were computed from. ``target`` names
    the cluster in a file with targets ("" otherwise); ``endpoints`` says how to reach it,
    without secrets (environment variable names or service names)."""

    changes: tuple[Change, ...]
    cluster: dict[str, Any]
    state: list[list[Any]]
    source: str
    target: str = ""
    endpoints: dict[str, Any] | None = None

    def doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "pgpath_plan": PLAN_FORMAT, "source": self.source,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if self.target:
            doc.update(target=self.target, endpoints=self.endpoints)
        doc.update(cluster=self.cluster, state=self.state,
                   changes=[change_doc(c) for c in self.changes])
        return doc

    @property
    def targets(self) -> dict[Scope, SearchPath | None]:
        return {c.scope: c.after for c in self.changes}


@dataclass(frozen=True)
class Where:
    """Where a target's reads and writes go; reads never use the write DSN."""

    name: str
    read: str | None
    write: str | None
    endpoints: dict[str, Any] | None = None


def where(target: Target, dsn: str | None) -> Where:
    """A policy target's connections (the command line's DSN for a file without targets)."""
    if target.write is None:
        return Where(target.name, dsn, dsn)
    read = target.read or target.write
    return Where(target.name, read.conninfo(), target.write.conninfo(),
                 {"write": asdict(target.write), "read": asdict(read)})


def where_from_endpoints(name: str, endpoints: dict[str, Any] | None,
                         dsn: str | None) -> Where:
    """The connections a saved plan or snapshot names (``--dsn`` wins when given)."""
    if dsn or not endpoints:
        return Where(name, dsn, dsn)
    try:
        write, read = Endpoint(**endpoints["write"]), Endpoint(**endpoints["read"])
    except (KeyError, TypeError):
        raise PgpathError(f"target {name}: corrupt endpoints {endpoints!r}") from None
    return Where(name, read.conninfo(), write.conninfo(), endpoints)


T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class TargetResult(Generic[T, R]):
    item: T
    value: R | None = None
    error: PgpathError | None = None


def run_targets(items: Sequence[T], fn: Callable[[T], R]) -> list[TargetResult[T, R]]:
    """Run ``fn`` for every item at once (one thread each); a failure is kept per item and
    does not stop the others."""

    def one(item: T) -> TargetResult[T, R]:
        try:
            return TargetResult(item, fn(item))
        except PgpathError as exc:
            return TargetResult(item, error=exc)
        except psycopg.Error as exc:
            return TargetResult(item, error=PgpathError(first_line(exc)))

    if len(items) == 1:
        return [one(items[0])]
    with ThreadPoolExecutor(max_workers=min(len(items), 16)) as pool:
        # Each thread gets a copy of the context, so statement recording sees all of them.
        futures = [pool.submit(contextvars.copy_context().run, one, item) for item in items]
        return [f.result() for f in futures]


def read_state(dsn: str | None) -> tuple[StoredState, Identity]:
    """The stored settings and the cluster's identity, in one read-only transaction."""
    with connect(dsn) as conn:
        return Catalog(conn).stored_state(), identity(conn, dsn)


def plan_policy(dsn: str | None, policy: Policy, target: str = "",
                endpoints: dict[str, Any] | None = None, keep_state: bool = True) -> Plan:
    """The changes a policy needs; ``keep_state=False`` (a diff) leaves out the state an
    apply compares under its lock."""
    state, ident = read_state(dsn)
    changes = diff(policy, state)
    saw = state_doc(state.paths) if keep_state else []
    return Plan(tuple(changes), ident.doc(), saw, policy.source, target, endpoints)


def plan_target(target: Target, dsn: str | None, keep_state: bool = True) -> Plan:
    w = where(target, dsn)
    return plan_policy(w.read, target.policy, target.name, w.endpoints, keep_state)


def _plan_from_doc(path: Path, doc: dict[str, Any]) -> Plan:
    changes = read_changes(path, doc, "plan")
    if not isinstance(doc.get("state"), list):
        raise PgpathError(f"{path}: corrupt plan: no state")
    return Plan(tuple(changes), doc["cluster"], doc["state"], str(doc.get("source", path)),
                str(doc.get("target", "")), doc.get("endpoints"))


def load_plans(path: Path) -> list[Plan]:
    """A saved plan: one, or one per target."""
    doc = read_json(path, "pgpath_plan", "plan")
    if "targets" in doc:
        if not isinstance(doc["targets"], list):
            raise PgpathError(f"{path}: corrupt plan: targets is not a list")
        return [_plan_from_doc(path, {"pgpath_plan": PLAN_FORMAT, **d}) for d in doc["targets"]]
    return [_plan_from_doc(path, doc)]


def plans_doc(plans: Sequence[Plan]) -> dict[str, Any]:
    """What ``plan -o`` writes: one plan, or one per target."""
    if len(plans) == 1 and not plans[0].target:
        return plans[0].doc()
    return {"pgpath_plan": PLAN_FORMAT,
            "targets": [{k: v for k, v in p.doc().items() if k != "pgpath_plan"}
                        for p in plans]}


def is_plan(path: Path) -> bool:
    head = read_text(path)[:4096].lstrip()
    return head.startswith("{") and '"pgpath_plan"' in head


def apply_plan(w: Where, plan: Plan, snapshot_dir: Path, lock_timeout: str) -> Outcome:
    """Apply the changes a user was shown, if the state is still what they were computed
    from."""
    directory = snapshot_dir / plan.target if plan.target else snapshot_dir
    return execute(w.write, plan.targets, kind="apply", snapshot_dir=directory,
                   expected_state=plan.state, expected_cluster=plan.cluster,
                   lock_timeout=lock_timeout, extra=_target_doc(plan.target, w.endpoints))


def apply_policy(target: Target, dsn: str | None, snapshot_dir: Path,
                 lock_timeout: str) -> Outcome:
    """Diff and apply a policy in one transaction, under the lock (``apply --yes``: nobody
    reviews the changes in between, so there is no earlier state to compare with)."""
    w = where(target, dsn)
    directory = snapshot_dir / target.name if target.name else snapshot_dir
    return execute(w.write, target.policy, kind="apply", snapshot_dir=directory,
                   lock_timeout=lock_timeout, extra=_target_doc(target.name, w.endpoints))


def _target_doc(name: str, endpoints: dict[str, Any] | None) -> dict[str, Any]:
    return {"target": name, "endpoints": endpoints} if name else {}


def rollback(dsn: str | None, snapshot: Path, snapshot_dir: Path, lock_timeout: str) -> Outcome:
    """Restore every scope a snapshot touched to its value before (RESET where it had none).
    A snapshot of a target carries how to reach it; ``--dsn`` overrides that."""
    doc = read_json(snapshot, "pgpath_snapshot", "snapshot")
    changes = read_changes(snapshot, doc, "snapshot")
    name = str(doc.get("target") or "")
    w = where_from_endpoints(name, doc.get("endpoints"), dsn)
    return execute(w.write, rollback_targets(changes), kind="rollback",
                   snapshot_dir=snapshot_dir, expected_cluster=doc["cluster"],
                   lock_timeout=lock_timeout, extra=_target_doc(name, w.endpoints))


def plan_one(w: Where, scope: Scope, path: SearchPath | None) -> Plan:
    """A plan for ``pgpath set`` / ``reset`` of one scope."""
    policy = Policy({scope: path}, "keep", "<command line>")
    return plan_policy(w.read, policy, w.name, w.endpoints)


def export(dsn: str | None) -> Policy:
    state, _ = read_state(dsn)
    return export_policy(state)
