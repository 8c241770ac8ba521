"""Policy deploys: diff, plan, apply, rollback and one-scope set/reset, over the executor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .catalog import Catalog
from .connection import connect
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
from .model import ClusterState, Scope
from .plan import Change, change_doc, current_paths, diff, export_policy
from .policy import Policy, load_policy
from .searchpath import SearchPath


@dataclass(frozen=True)
class Plan:
    """Changes, with the cluster and the state they were computed from."""

    changes: tuple[Change, ...]
    cluster: dict[str, Any]
    state: list[list[Any]]
    source: str

    def doc(self) -> dict[str, Any]:
        return {
            "pgpath_plan": PLAN_FORMAT, "source": self.source,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cluster": self.cluster, "state": self.state,
            "changes": [change_doc(c) for c in self.changes],
        }

    @property
    def targets(self) -> dict[Scope, SearchPath | None]:
        return {c.scope: c.after for c in self.changes}


def read_state(dsn: str | None) -> tuple[ClusterState, Identity]:
    """The cluster-wide state and identity, in one read-only transaction."""
    with connect(dsn) as conn:
        return Catalog(conn).cluster_state(), identity(conn, dsn)


def plan_policy(dsn: str | None, policy: Policy) -> Plan:
    state, ident = read_state(dsn)
    changes = diff(policy, state)
    return Plan(tuple(changes), ident.doc(), state_doc(current_paths(state.settings)),
                policy.source)


def load_plan(path: Path) -> Plan:
    doc = read_json(path, "pgpath_plan", "plan")
    changes = read_changes(path, doc, "plan")
    if not isinstance(doc.get("state"), list):
        raise PgpathError(f"{path}: corrupt plan: no state")
    return Plan(tuple(changes), doc["cluster"], doc["state"], str(doc.get("source", path)))


def load_plan_or_policy(path: Path, dsn: str | None, strict: bool = False) -> Plan:
    """A saved plan (JSON with pgpath_plan) or a policy file, planned now."""
    try:
        head = Path(path).read_text(encoding="utf-8")[:4096].lstrip()
    except OSError as exc:
        raise PgpathError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PgpathError(f"{path}: not UTF-8 text") from None
    if head.startswith("{") and '"pgpath_plan"' in head:
        return load_plan(path)
    return plan_policy(dsn, load_policy(path, strict))


def apply_plan(dsn: str | None, plan: Plan, snapshot_dir: Path, lock_timeout: str) -> Outcome:
    return execute(dsn, plan.targets, kind="apply", snapshot_dir=snapshot_dir,
                   expected_state=plan.state, expected_cluster=plan.cluster,
                   lock_timeout=lock_timeout)


def rollback(dsn: str | None, snapshot: Path, snapshot_dir: Path, lock_timeout: str) -> Outcome:
    """Restore every scope a snapshot touched to its value before (RESET where it had none)."""
    doc = read_json(snapshot, "pgpath_snapshot", "snapshot")
    changes = read_changes(snapshot, doc, "snapshot")
    return execute(dsn, rollback_targets(changes), kind="rollback", snapshot_dir=snapshot_dir,
                   expected_cluster=doc["cluster"], lock_timeout=lock_timeout)


def plan_one(dsn: str | None, scope: Scope, path: SearchPath | None) -> Plan:
    """A plan for ``pgpath set`` / ``reset`` of one scope."""
    policy = Policy({scope: path}, "keep", "<command line>")
    return plan_policy(dsn, policy)


def export(dsn: str | None) -> Policy:
    state, _ = read_state(dsn)
    return export_policy(state)
