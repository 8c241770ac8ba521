"""The policy file (YAML, version 1): which search_path each scope should store.

Validation is strict and offline; every problem carries ``file:line:column``. A list holds
exact schema names; a string is read with PostgreSQL's own rules (as pasted from ``SHOW``);
``[]`` is the empty path; ``null`` means "no setting here"; an omitted scope is not managed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import PgpathError
from .model import Scope
from .searchpath import MAX_NAME_BYTES, SearchPath, SearchPathSyntaxError

VERSION = 1
TOP_KEYS = ("version", "unmanaged", "all_roles", "databases", "roles")
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
    lines: dict[Scope, int] = field(default_factory=dict, compare=False)
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def roles(self) -> set[str]:
        return {s.role for s in self.scopes if s.role is not None}

    @property
    def databases(self) -> set[str]:
        return {s.database for s in self.scopes if s.database is not None}


class _Reader:
    """Walks the loaded document, keeping positions for messages."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, node: Any, key: Any, message: str, warning: bool = False) -> None:
        line, col = _position(node, key)
        self.problems.append(Problem(self.source, line, col, message, warning))

    def mapping(self, node: Any, parent: Any, key: Any, what: str) -> dict[Any, Any] | None:
        if node is None:
            return {}
        if not isinstance(node, dict):
            self.problem(parent, key, f"{what} must be a mapping, not {_kind(node)}")
            return None
        return node

    def name(self, node: Any, key: Any, what: str) -> bool:
        if not isinstance(key, str) or not key:
            self.problem(node, key, f"{what} name must be a non-empty string, not {key!r}")
            return False
        if len(key.encode()) > MAX_NAME_BYTES:
            self.problem(node, key, f"{what} name {key[:20]!r}... is longer than 63 bytes: "
                                    "PostgreSQL would truncate it and the policy never "
                                    "converge")
            return False
        return True

    def path(self, parent: Any, key: Any, where: str) -> tuple[bool, SearchPath | None]:
        """(valid, value) for the search path at parent[key]."""
        value = parent[key]
        if value is None:
            return True, None
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
        ok = True
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
        return ok, SearchPath(tuple(elements)) if ok else None


def _position(node: Any, key: Any) -> tuple[int, int]:
    """1-based (line, column) of ``node[key]``'s key (mappings) or item (lists)."""
    if isinstance(node, _Map):
        return node.keys_at.get(key, node.at)
    if isinstance(node, _List):
        return node.items_at[key] if isinstance(key, int) and key < len(node) else node.at
    return (1, 1)


class _Map(dict):  # type: ignore[type-arg]
    """A mapping that remembers where it and each of its keys stand in the file."""

    at: tuple[int, int]
    keys_at: dict[Any, tuple[int, int]]


class _List(list):  # type: ignore[type-arg]
    at: tuple[int, int]
    items_at: list[tuple[int, int]]


_STR_TAG = "tag:yaml.org,2002:str"


def _mark(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _load_yaml(text: str, source: str) -> Any:
    """YAML to plain values that keep their positions; duplicate keys are errors.

    Composes nodes with libyaml when available (fast on files naming thousands of roles) and
    builds the values here, which is where duplicate keys are caught.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise PolicyError([Problem(source, line, col, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Problem(source, 1, 1, f"invalid YAML: {exc}")]) from None
    scalars = yaml.constructor.SafeConstructor()

    def build(node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            result = _Map()
            result.at, result.keys_at = _mark(node), {}
            for key_node, value_node in node.value:
                key = build(key_node)
                if isinstance(key, list | dict):
                    raise PolicyError([Problem(source, *_mark(key_node),
                                               "a key must be a name, not a collection")])
                if key in result:
                    raise PolicyError([Problem(source, *_mark(key_node),
                                               f"duplicate key {key!r}")])
                result[key] = build(value_node)
                result.keys_at[key] = _mark(key_node)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = _List(build(item) for item in node.value)
            items.at, items.items_at = _mark(node), [_mark(item) for item in node.value]
            return items
        if node.tag == _STR_TAG:
            return node.value
        try:
            return scalars.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            raise PolicyError([Problem(source, *_mark(node), f"invalid value: {exc.problem}")]
                              ) from None

    return None if root is None else build(root)


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


def parse_policy(text: str, source: str = "<policy>", strict: bool = False) -> Policy:
    """Validate and read a policy; raise PolicyError with every problem found."""
    doc = _load_yaml(text, source)
    r = _Reader(source)
    if not isinstance(doc, dict):
        raise PolicyError([Problem(source, 1, 1, "a policy is a mapping with 'version: 1'")])
    for key in doc:
        if key == "targets":
            r.problem(doc, key, "'targets' (several clusters in one file) is not supported by "
                                "this version of pgpath")
        elif key not in TOP_KEYS:
            r.problem(doc, key, f"unknown key {key!r} (expected one of {', '.join(TOP_KEYS)})")
    version = doc.get("version")
    if isinstance(version, bool) or version != VERSION:
        where = "version" if "version" in doc else None
        found = f"version {doc['version']!r}" if where else "no version"
        r.problem(doc, where, f"unsupported policy: {found} (expected 'version: 1')")
    unmanaged = doc.get("unmanaged", "keep")
    if unmanaged not in ("keep", "reset"):
        r.problem(doc, "unmanaged", f"unmanaged must be 'keep' or 'reset', not {unmanaged!r}")
    scopes: dict[Scope, SearchPath | None] = {}
    lines: dict[Scope, int] = {}

    def add(scope: Scope, parent: Any, key: Any, where: str) -> None:
        ok, value = r.path(parent, key, where)
        if ok:
            scopes[scope] = value
            lines[scope] = _position(parent, key)[0]

    if "all_roles" in doc:
        add(Scope(), doc, "all_roles", "all_roles")
    databases = r.mapping(doc.get("databases"), doc, "databases", "databases")
    for db in databases or {}:
        if r.name(databases, db, "database"):
            add(Scope(None, db), databases, db, f"database {db}")
    roles = r.mapping(doc.get("roles"), doc, "roles", "roles")
    for role in roles or {}:
        if not r.name(roles, role, "role"):
            continue
        body = roles[role]
        if not isinstance(body, dict):
            add(Scope(role, None), roles, role, f"role {role}")
            continue
        for key in body:
            if key not in ROLE_KEYS:
                r.problem(body, key, f"unknown key {key!r} under role {role} (expected "
                                     "search_path, databases)")
        if "search_path" in body:
            add(Scope(role, None), body, "search_path", f"role {role}")
        in_dbs = r.mapping(body.get("databases"), body, "databases", f"role {role} databases")
        for db in in_dbs or {}:
            if r.name(in_dbs, db, "database"):
                add(Scope(role, db), in_dbs, db, f"role {role} in database {db}")
    errors = [p for p in r.problems if not p.warning]
    if errors or (strict and r.problems):
        # With --strict, warnings count as errors.
        raise PolicyError([Problem(p.file, p.line, p.column, p.message, p.warning and not strict)
                           for p in r.problems])
    return Policy(scopes, unmanaged, source, lines, tuple(r.problems))


def load_policy(path: str | Path, strict: bool = False) -> Policy:
    """Read and validate a policy file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PgpathError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PgpathError(f"{path}: not UTF-8 text") from None
    return parse_policy(text, str(path), strict)


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


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a version-1 policy, for editors."""
    path = {
        "description": "A list of exact schema names ([] is the empty path), a string read "
                       "with PostgreSQL's rules, or null for no setting.",
        "oneOf": [
            {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 63}},
            {"type": "string"},
            {"type": "null"},
        ],
    }
    names = {"type": "object", "propertyNames": {"minLength": 1, "maxLength": 63},
             "additionalProperties": {"$ref": "#/$defs/path"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pgpath policy",
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "$defs": {"path": path},
        "properties": {
            "version": {"const": 1},
            "unmanaged": {"enum": ["keep", "reset"], "default": "keep"},
            "all_roles": {"$ref": "#/$defs/path"},
            "databases": names,
            "roles": {
                "type": "object",
                "propertyNames": {"minLength": 1, "maxLength": 63},
                "additionalProperties": {
                    "oneOf": [
                        {"$ref": "#/$defs/path"},
                        {"type": "object", "additionalProperties": False,
                         "properties": {"search_path": {"$ref": "#/$defs/path"},
                                        "databases": names}},
                    ],
                },
            },
        },
    }
