"""The policy file (YAML, version 1): which search_path each scope should store.

Validation is strict and offline; every problem carries ``file:line:column``. A list holds
exact schema names; a string is read with PostgreSQL's own rules (as pasted from ``SHOW``);
``[]`` is the empty path; ``null`` means "no setting here"; an omitted scope is not managed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from psycopg.conninfo import make_conninfo

from .errors import PgpathError
from .model import Scope
from .searchpath import MAX_NAME_BYTES, SHORT_NAME_CHARS, SearchPath, SearchPathSyntaxError
from .yamlpos import YamlProblem, fast_load, load_yaml, position

VERSION = 1
SECTION_KEYS = ("unmanaged", "all_roles", "databases", "roles")
TOP_KEYS = ("version", *SECTION_KEYS)
TARGET_KEYS = ("dsn_env", "service", "read_dsn_env", "read_service")
ROLE_KEYS = ("search_path", "databases")
Unmanaged = Literal["keep", "reset"]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}:{self.column}: {kind}{self.message}"


class PolicyError(PgpathError):
    """The file is not a valid policy; ``problems`` lists every error and warning."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if not p.warning] or problems
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")
        self.problems = problems


@dataclass(frozen=True)
class Policy:
    """Desired settings: every managed scope maps to a path, or to None (no setting)."""

    scopes: dict[Scope, SearchPath | None]
    unmanaged: Unmanaged = "keep"
    source: str = "<policy>"
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def roles(self) -> set[str]:
        return {s.role for s in self.scopes if s.role is not None}

    @property
    def databases(self) -> set[str]:
        return {s.database for s in self.scopes if s.database is not None}


@dataclass(frozen=True)
class Endpoint:
    """How to reach a cluster without writing a secret: an environment variable that holds
    the DSN, or a libpq service name (pg_service.conf, with .pgpass for the password)."""

    env: str | None = None
    service: str | None = None

    def conninfo(self) -> str:
        if self.service:
            return make_conninfo(service=self.service)
        value = os.environ.get(self.env or "")
        if not value:
            raise PgpathError(f"environment variable {self.env} is not set (it should hold "
                              "the DSN)")
        return value


@dataclass(frozen=True)
class Target:
    """One cluster of a policy file. ``name`` is empty for a file without targets, whose
    connection comes from the command line; reads use ``read``, writes ``write``."""

    name: str
    policy: Policy
    write: Endpoint | None
    read: Endpoint | None


@dataclass(frozen=True)
class PolicyFile:
    targets: tuple[Target, ...]
    multi: bool
    warnings: tuple[Problem, ...] = ()

    def select(self, names: list[str] | None) -> tuple[Target, ...]:
        """The targets named (all of them by default); unknown names are one error."""
        if not names:
            return self.targets
        if not self.multi:
            raise PgpathError("--target needs a policy file with targets")
        known = {t.name for t in self.targets}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise PgpathError(f"no target named {', '.join(unknown)} (the file has "
                              f"{', '.join(sorted(known))})")
        return tuple(t for t in self.targets if t.name in names)


class _Reader:
    """Walks the loaded document, keeping positions for messages."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # Lists found valid, without warnings: the same few recur for thousands of roles.
        self.valid: dict[tuple[Any, ...], SearchPath] = {}

    def problem(self, node: Any, key: Any, message: str, warning: bool = False) -> None:
        line, col = position(node, key)
        self.problems.append(Problem(self.source, line, col, message, warning))

    def mapping(self, node: Any, parent: Any, key: Any, what: str) -> dict[Any, Any] | None:
        if node is None:
            return {}
        if not isinstance(node, dict):
            self.problem(parent, key, f"{what} must be a mapping, not {_kind(node)}")
            return None
        return node

    def name(self, node: Any, key: Any, what: str) -> bool:
        if type(key) is str and 0 < len(key) <= SHORT_NAME_CHARS:
            return True  # the common case
        if not isinstance(key, str) or not key:
            self.problem(node, key, f"{what} name must be a non-empty string, not {key!r}")
            return False
        if len(key.encode()) > MAX_NAME_BYTES:
            self.problem(node, key, f"{what} name {key[:20]!r}... is longer than 63 bytes: "
                                    "PostgreSQL would truncate it and the policy never "
                                    "converge")
            return False
        return True

    def path(self, parent: Any, key: Any, prefix: str, scope: Scope
             ) -> tuple[bool, SearchPath | None]:
        """(valid, value) for the search path of ``scope`` at parent[key]."""
        value = parent[key]
        if value is None:
            return True, None
        if isinstance(value, list) and (known := self.valid.get(tuple(value))) is not None:
            return True, known
        where = prefix + ("all_roles" if scope == Scope() else str(scope))
        if isinstance(value, str):
            try:
                names = list(SearchPath.parse(value).schemas)
            except SearchPathSyntaxError as exc:
                self.problem(parent, key, f"{where}: {exc}")
                return False, None
            elements: list[Any] = names
            positions: list[tuple[Any, Any]] = [(parent, key)] * len(names)
        elif isinstance(value, list):
            elements = list(value)
            positions = [(value, i) for i in range(len(value))]
        else:
            self.problem(parent, key, f"{where}: a search path is a list of schema names, a "
                                      f"string or null, not {_kind(value)}")
            return False, None
        ok, problems_before = True, len(self.problems)
        for element, (node, pos) in zip(elements, positions, strict=True):
            if not isinstance(element, str):
                self.problem(node, pos, f"{where}: schema name must be a string, not "
                                        f"{_kind(element)} {element!r} (quote it)")
                ok = False
            elif element == "":
                self.problem(node, pos, f"{where}: empty schema name (use [] for the empty "
                                        "path)")
                ok = False
            elif len(element.encode()) > MAX_NAME_BYTES:
                self.problem(node, pos, f"{where}: schema name {element[:20]!r}... is longer "
                                        "than 63 bytes: PostgreSQL would truncate it and the "
                                        "policy never converge")
                ok = False
            elif "," in element:
                self.problem(node, pos, f"{where}: schema name {element!r} contains a comma: "
                                        "it is one schema; write a list to mean several",
                             warning=True)
        if not ok:
            return False, None
        path = SearchPath(tuple(elements))
        if isinstance(value, list) and len(self.problems) == problems_before:
            self.valid[path.schemas] = path
        return True, path


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _sections(r: _Reader, doc: dict[Any, Any], prefix: str) -> tuple[
        dict[Scope, SearchPath | None], Unmanaged]:
    """The version-1 sections (unmanaged, all_roles, databases, roles) of a mapping."""
    unmanaged = doc.get("unmanaged", "keep")
    if unmanaged not in ("keep", "reset"):
        r.problem(doc, "unmanaged", f"unmanaged must be 'keep' or 'reset', not {unmanaged!r}")
    scopes: dict[Scope, SearchPath | None] = {}

    def add(scope: Scope, parent: Any, key: Any) -> None:
        ok, value = r.path(parent, key, prefix, scope)
        if ok:
            scopes[scope] = value

    if "all_roles" in doc:
        add(Scope(), doc, "all_roles")
    databases = r.mapping(doc.get("databases"), doc, "databases", "databases")
    for db in databases or {}:
        if r.name(databases, db, "database"):
            add(Scope(None, db), databases, db)
    roles = r.mapping(doc.get("roles"), doc, "roles", "roles")
    for role, body in (roles or {}).items():
        # The common line, `role: [a, b]` with a list already found valid, in one step.
        if (type(body) is list and type(role) is str and 0 < len(role) <= SHORT_NAME_CHARS
                and (known := r.valid.get(tuple(body))) is not None):
            scopes[Scope(role, None)] = known
            continue
        if not r.name(roles, role, "role"):
            continue
        if not isinstance(body, dict):
            add(Scope(role, None), roles, role)
            continue
        for key in body:
            if key not in ROLE_KEYS:
                r.problem(body, key, f"unknown key {key!r} under role {role} (expected "
                                     "search_path, databases)")
        if "search_path" in body:
            add(Scope(role, None), body, "search_path")
        in_dbs = r.mapping(body.get("databases"), body, "databases", f"role {role} databases")
        for db in in_dbs or {}:
            if r.name(in_dbs, db, "database"):
                add(Scope(role, db), in_dbs, db)
    return scopes, "reset" if unmanaged == "reset" else "keep"


def _endpoint(r: _Reader, body: dict[Any, Any], env_key: str, service_key: str,
              name: str) -> Endpoint | None:
    env, service = body.get(env_key), body.get(service_key)
    for key, value in ((env_key, env), (service_key, service)):
        if value is not None and (not isinstance(value, str) or not value):
            r.problem(body, key, f"target {name}: {key} must be a non-empty string")
            return None
    if env and service:
        r.problem(body, service_key, f"target {name}: give {env_key} or {service_key}, not both")
        return None
    return Endpoint(env=env, service=service) if env or service else None


def parse_policy_file(text: str, source: str = "<policy>", strict: bool = False
                      ) -> PolicyFile:
    """Validate and read a policy file, with or without targets; raise PolicyError with
    every problem found."""
    doc = fast_load(text)
    if doc is not None:
        problems, found = _read(doc, source)
        if not problems:
            return found
    # Outside the simple subset, or a problem to report: read again, keeping positions.
    try:
        doc = load_yaml(text)
    except YamlProblem as exc:
        raise PolicyError([Problem(source, exc.line, exc.column, exc.message)]) from None
    problems, found = _read(doc, source)
    errors = [p for p in problems if not p.warning]
    if errors or (strict and problems):
        # With --strict, warnings count as errors.
        raise PolicyError([Problem(p.file, p.line, p.column, p.message, p.warning and not strict)
                           for p in problems])
    return found


def _read(doc: Any, source: str) -> tuple[list[Problem], PolicyFile]:
    """Every problem of a loaded document, and what it declares."""
    r = _Reader(source)
    if not isinstance(doc, dict):
        raise PolicyError([Problem(source, 1, 1, "a policy is a mapping with 'version: 1'")])
    version = doc.get("version")
    if isinstance(version, bool) or version != VERSION:
        where = "version" if "version" in doc else None
        found = f"version {doc['version']!r}" if where else "no version"
        r.problem(doc, where, f"unsupported policy: {found} (expected 'version: 1')")
    targets: list[Target] = []
    if "targets" in doc:
        for key in doc:
            if key not in ("version", "targets"):
                r.problem(doc, key, f"{key!r} beside 'targets': put each cluster's sections "
                                    "under its target")
        named = r.mapping(doc["targets"], doc, "targets", "targets")
        if named == {}:
            r.problem(doc, "targets", "targets names no cluster")
        for name in named or {}:
            if not isinstance(name, str) or not name:
                r.problem(named, name, f"a target name must be a non-empty string, not {name!r}")
                continue
            body = r.mapping(named[name], named, name, f"target {name}")
            if body is None:
                continue
            for key in body:
                if key == "dsn" or key == "read_dsn":
                    r.problem(body, key, f"target {name}: never write a DSN (it may hold a "
                                         "password) in the file: use dsn_env or service")
                elif key not in TARGET_KEYS and key not in SECTION_KEYS:
                    r.problem(body, key, f"unknown key {key!r} under target {name} (expected "
                                         f"one of {', '.join(TARGET_KEYS + SECTION_KEYS)})")
            write = _endpoint(r, body, "dsn_env", "service", name)
            read = _endpoint(r, body, "read_dsn_env", "read_service", name)
            if "dsn_env" not in body and "service" not in body:
                r.problem(named, name, f"target {name}: say how to connect (dsn_env or "
                                       "service)")
            scopes, unmanaged = _sections(r, body, f"target {name}: ")
            policy = Policy(scopes, unmanaged, f"{source} (target {name})")
            targets.append(Target(name, policy, write, read or write))
    else:
        for key in doc:
            if key not in TOP_KEYS:
                r.problem(doc, key, f"unknown key {key!r} (expected one of "
                                    f"{', '.join(TOP_KEYS)}, or targets)")
        scopes, unmanaged = _sections(r, doc, "")
        targets.append(Target("", Policy(scopes, unmanaged, source), None, None))
    return r.problems, PolicyFile(tuple(targets), "targets" in doc, tuple(r.problems))


def parse_policy(text: str, source: str = "<policy>", strict: bool = False) -> Policy:
    """A single-cluster policy (a file without targets)."""
    found = parse_policy_file(text, source, strict)
    if found.multi:
        raise PgpathError(f"{source}: this file names targets; choose one with --target")
    return Policy(found.targets[0].policy.scopes, found.targets[0].policy.unmanaged, source,
                  found.warnings)


def load_policy_file(path: str | Path, strict: bool = False) -> PolicyFile:
    """Read and validate a policy file, with or without targets."""
    return parse_policy_file(read_text(path), str(path), strict)


def read_text(path: str | Path) -> str:
    """A UTF-8 file's text, or one clear error."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PgpathError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PgpathError(f"{path}: not UTF-8 text") from None


def policy_document(policy: Policy) -> dict[str, Any]:
    """A policy as the YAML document ``export`` writes (lists of exact names)."""
    doc: dict[str, Any] = {"version": VERSION, "unmanaged": policy.unmanaged}

    def value(path: SearchPath | None) -> list[str] | None:
        return None if path is None else list(path.schemas)

    ordered = sorted(policy.scopes, key=Scope.sort_key)
    if Scope() in policy.scopes:
        doc["all_roles"] = value(policy.scopes[Scope()])
    dbs = {s.database: value(policy.scopes[s]) for s in ordered if s.role is None and s.database}
    if dbs:
        doc["databases"] = dbs
    roles: dict[str, Any] = {}
    for scope in ordered:
        if scope.role is None:
            continue
        entry = roles.setdefault(scope.role, {})
        if scope.database is None:
            entry["search_path"] = value(policy.scopes[scope])
        else:
            entry.setdefault("databases", {})[scope.database] = value(policy.scopes[scope])
    for role, entry in roles.items():
        if set(entry) == {"search_path"}:
            roles[role] = entry["search_path"]  # the short form
    if roles:
        doc["roles"] = roles
    return doc
