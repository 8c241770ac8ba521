"""Security checks of search paths (pure: the catalog facts come in, findings go out).

The trust model follows PostgreSQL's "Schemas / Usage Patterns" and "Writing SECURITY DEFINER
Functions Safely": a role trusts itself, the roles it is a member of, and superusers. Anyone
else who can CREATE in a schema on its path can plant a function, operator or table that
captures its unqualified references (CVE-2018-1058).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from psycopg import sql

from .model import ClusterState, Function, SchemaInfo, Scope, Severity, split_config
from .plan import alter_statement
from .resolve import CATALOG_SCHEMA, TEMP_ALIAS, Resolution
from .searchpath import USER_ELEMENT, SearchPath, SearchPathSyntaxError

PUBLIC = None  # a grantee of None is PUBLIC
DATABASE_OWNER = "pg_database_owner"  # stands for the database's owner (PostgreSQL 14+)



@dataclass(frozen=True)
class Check:
    code: str
    severity: Severity
    title: str


CHECKS = {c.code: c for c in (
    Check("PGP001", Severity.error, "PUBLIC can create in a schema on a login role's path"),
    Check("PGP002", Severity.warning, "another role can create in a schema on the path"),
    Check("PGP003", Severity.warning, "pg_catalog listed after a schema others can write to"),
    Check("PGP010", Severity.error, "SECURITY DEFINER function without a pinned search_path"),
    Check("PGP011", Severity.error, "SECURITY DEFINER function's path has a schema others "
                                    "can write to"),
    Check("PGP012", Severity.error, "SECURITY DEFINER function's path does not list pg_temp "
                                    "last"),
    Check("PGP013", Severity.info, "function without a pinned search_path"),
    Check("PGP020", Severity.warning, "path entry names no schema in that database"),
    Check("PGP021", Severity.info, "$user on the path but no schema named after the role"),
    Check("PGP030", Severity.error, "stored schema name looks like a whole list"),
    Check("PGP040", Severity.warning, "setting on a role that cannot log in"),
    Check("PGP041", Severity.info, "setting on a database that does not accept connections"),
    Check("PGP042", Severity.info, "setting for a role that cannot connect to that database"),
)}


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    fix: str | None
    role: str | None = None
    database: str | None = None
    schema: str | None = None
    function: str | None = None

    @property
    def check(self) -> Check:
        return CHECKS[self.code]

    @property
    def severity(self) -> Severity:
        return self.check.severity


@dataclass(frozen=True)
class DatabaseFacts:
    """What one database contributes to the audit."""

    name: str
    owner: str
    schemas: Mapping[str, SchemaInfo]
    functions: tuple[Function, ...]
    resolutions: tuple[Resolution, ...]  # the login roles that may connect to it


@dataclass(frozen=True)
class Trust:
    """Who each role trusts: itself, the roles it is a member of, and superusers."""

    memberships: Mapping[str, frozenset[str]]
    superusers: frozenset[str]

    def trusts(self, role: str, other: str) -> bool:
        return other == role or other in self.superusers or other in self.memberships.get(
            role, frozenset())


@dataclass(frozen=True)
class Writers:
    """Who may create in a schema, seen from one role."""

    public: bool
    others: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return self.public or bool(self.others)

    def describe(self) -> str:
        return "PUBLIC" if self.public else ", ".join(self.others)


def writers(info: SchemaInfo, database_owner: str, role: str, trust: Trust) -> Writers:
    def actual(name: str) -> str:
        return database_owner if name == DATABASE_OWNER else name

    if PUBLIC in info.creators:
        return Writers(public=True)
    candidates = {actual(info.owner)} | {actual(c) for c in info.creators if c is not None}
    return Writers(False, tuple(sorted(c for c in candidates if not trust.trusts(role, c))))


def _ident(name: str) -> str:
    return sql.Identifier(name).as_string(None)


def _path_without(path: SearchPath, drop: Iterable[str]) -> SearchPath:
    gone = set(drop)
    return SearchPath(tuple(s for s in path if s not in gone))


def _fix_scope(resolution: Resolution) -> Scope:
    """Where a path fix goes: the scope the path came from, or the role in that database."""
    scope = resolution.winner.scope
    return scope if scope is not None else Scope(resolution.role, resolution.database)


def path_findings(db: DatabaseFacts, trust: Trust) -> Iterator[Finding]:
    """PGP001-003 and PGP020-021 for every login role's effective path in one database."""
    for r in db.resolutions:
        if r.entries is None:
            continue
        path = r.search_path
        scope = _fix_scope(r)
        writable_before_catalog: list[str] = []
        for entry in r.entries:
            where = {"role": r.role, "database": r.database}
            if entry.implicit or entry.element == TEMP_ALIAS:
                continue
            if not entry.exists:
                if entry.element == USER_ELEMENT:
                    if r.winner.scope is None:
                        continue  # a server-wide default: "$user" is meant to be optional
                    yield Finding("PGP021", f"no schema named {r.role} in {r.database}: $user "
                                  "is skipped", f"CREATE SCHEMA {_ident(r.role)} AUTHORIZATION "
                                  f"{_ident(r.role)};", schema=r.role, **where)
                else:
                    yield Finding("PGP020", f"{entry.element!r} names no schema in "
                                  f"{r.database} (a typo?); it is skipped",
                                  alter_statement(scope, _path_without(path, [entry.element]))
                                  .as_string(None) + ";", schema=entry.element, **where)
                continue
            if entry.schema == CATALOG_SCHEMA:
                if writable_before_catalog:
                    first = SearchPath((CATALOG_SCHEMA, *_path_without(path, [CATALOG_SCHEMA])))
                    yield Finding("PGP003", "pg_catalog comes after "
                                  f"{', '.join(writable_before_catalog)}, where others can "
                                  "create: built-in functions and operators can be shadowed",
                                  alter_statement(scope, first).as_string(None) + ";",
                                  schema=CATALOG_SCHEMA, **where)
                continue
            if not entry.usage or not entry.schema:
                continue
            info = db.schemas.get(entry.schema)
            if info is None:
                continue
            who = writers(info, db.owner, r.role, trust)
            if not who:
                continue
            writable_before_catalog.append(entry.schema)
            if who.public:
                yield Finding("PGP001", f"PUBLIC can create in {entry.schema}, which is on the "
                              f"path of {r.role} in {r.database}: anyone can plant objects "
                              "that capture its unqualified names",
                              f"REVOKE CREATE ON SCHEMA {_ident(entry.schema)} FROM PUBLIC;",
                              schema=entry.schema, **where)
            else:
                # An untrusted owner can always create (and re-grant): take the schema off
                # the path. Otherwise revoke what was granted.
                owner = db.owner if info.owner == DATABASE_OWNER else info.owner
                fix = (alter_statement(scope, _path_without(path, [entry.schema]))
                       .as_string(None) + ";" if owner in who.others else
                       f"REVOKE CREATE ON SCHEMA {_ident(entry.schema)} FROM "
                       f"{', '.join(_ident(w) for w in who.others)};")
                yield Finding("PGP002", f"{who.describe()} can create in {entry.schema}, "
                              f"which is on the path of {r.role} in {r.database}", fix,
                              schema=entry.schema, **where)


def _split_lists(path: SearchPath) -> SearchPath:
    """The path meant: every comma-separated name read as the list it was written as."""
    return SearchPath(tuple(part.strip() for name in path for part in name.split(",")
                            if part.strip()))


def _pinned(config: tuple[str, ...] | None) -> str | None:
    return split_config(list(config or ())).get("search_path")


def _routine_fix(fn: Function, path: SearchPath) -> str:
    return f"ALTER ROUTINE {fn.signature} SET search_path = {path.to_sql().as_string(None)};"


def function_findings(db: DatabaseFacts, trust: Trust) -> Iterator[Finding]:
    """PGP010-013: SECURITY DEFINER functions must pin a safe path with pg_temp last."""
    for fn in db.functions:
        where = {"database": db.name, "function": fn.signature, "role": fn.owner,
                 "schema": fn.schema}
        home = db.schemas.get(fn.schema)
        home_safe = home is not None and not writers(home, db.owner, fn.owner, trust)
        safe = SearchPath((fn.schema, TEMP_ALIAS) if home_safe else (CATALOG_SCHEMA, TEMP_ALIAS))
        raw = _pinned(fn.config)
        if raw is None:
            if fn.security_definer:
                yield Finding("PGP010", f"SECURITY DEFINER {fn.signature} (owner {fn.owner}) "
                              "runs with its caller's search_path: a caller can make it "
                              "resolve names to objects of the caller's choosing",
                              _routine_fix(fn, safe), **where)
            else:
                yield Finding("PGP013", f"{fn.signature} has no pinned search_path",
                              _routine_fix(fn, safe), **where)
            continue
        if not fn.security_definer:
            continue
        try:
            path = SearchPath.parse(raw)
        except SearchPathSyntaxError:
            continue
        unsafe = []
        for name in path:
            info = db.schemas.get(name)
            if info is not None and writers(info, db.owner, fn.owner, trust):
                unsafe.append(name)
        if unsafe:
            kept = _path_without(path, [*unsafe, TEMP_ALIAS])
            yield Finding("PGP011", f"SECURITY DEFINER {fn.signature} pins a path with "
                          f"{', '.join(unsafe)}, where roles it does not trust can create",
                          _routine_fix(fn, SearchPath((*kept, TEMP_ALIAS))), **where)
        if not path.schemas or path.schemas[-1] != TEMP_ALIAS:
            detail = ("does not list pg_temp, so temporary objects are searched first"
                      if TEMP_ALIAS not in path else "does not list pg_temp last")
            kept = _path_without(path, [TEMP_ALIAS])
            yield Finding("PGP012", f"SECURITY DEFINER {fn.signature}: its pinned path "
                          f"{raw} {detail}", _routine_fix(fn, SearchPath((*kept, TEMP_ALIAS))),
                          **where)


def setting_findings(state: ClusterState, allowed: Mapping[str, set[str]],
                     databases: set[str] | None) -> Iterator[Finding]:
    """PGP030 and PGP040-042 over the stored settings (``databases``: limit to these)."""
    for setting in state.settings:
        scope, path = setting.scope, setting.search_path
        if path is None:
            continue
        if databases is not None and scope.database is not None \
                and scope.database not in databases:
            continue
        where = {"role": scope.role, "database": scope.database}
        for name in path:
            if "," in name:
                yield Finding("PGP030", f"{scope} stores the schema name {name!r}: one schema, "
                              "almost certainly a whole list written as one string",
                              alter_statement(scope, _split_lists(path)).as_string(None) + ";",
                              schema=name, **where)
        role = state.role(scope.role) if scope.role else None
        if role is not None and not role.can_login:
            yield Finding("PGP040", f"{scope}: {scope.role} cannot log in, and settings are "
                          "not inherited by its members, so this does nothing",
                          alter_statement(scope, None).as_string(None) + ";", **where)
        db = state.database(scope.database) if scope.database else None
        if db is not None and not db.allow_connections:
            yield Finding("PGP041", f"{scope}: database {db.name} does not accept "
                          "connections", alter_statement(scope, None).as_string(None) + ";",
                          **where)
        elif (db is not None and role is not None and role.can_login
              and scope.role not in allowed.get(db.name, set())
              and not role.superuser):
            yield Finding("PGP042", f"{scope}: {scope.role} has no CONNECT privilege on "
                          f"{db.name}", alter_statement(scope, None).as_string(None) + ";",
                          **where)


def audit(state: ClusterState, trust: Trust, allowed: Mapping[str, set[str]],
          facts: Iterable[DatabaseFacts], databases: set[str] | None,
          role: str | None = None) -> list[Finding]:
    """Every finding, most severe first; ``role`` limits them to findings about that role."""
    findings: list[Finding] = list(setting_findings(state, allowed, databases))
    for db in facts:
        findings.extend(path_findings(db, trust))
        findings.extend(function_findings(db, trust))
    if role is not None:
        findings = [f for f in findings if f.role == role]
    return sorted(findings, key=lambda f: (-f.severity.rank, f.code, f.database or "",
                                           f.role or "", f.schema or "", f.function or ""))
