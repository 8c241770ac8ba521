"""Flask-SQLAlchemy / SQLAlchemy models checked against the live search paths of their binds.

``inspect_models`` reads the tables, foreign keys and relationships (SQLAlchemy is imported
only here); ``check_models`` is pure: given each bind's effective path and the tables that
exist in its database, it says which schema every unqualified table really resolves to, where
a name is shadowed, and which cross-bind foreign keys and relationships cannot work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .binds import DEFAULT_BIND
from .errors import PgpathError
from .model import Severity

CROSS_DATABASE_LAZY = ("joined", "subquery")  # one statement, sent to one database


@dataclass(frozen=True)
class TableRef:
    bind: str
    schema: str | None
    name: str
    model: str | None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class ForeignKeyRef:
    table: TableRef
    target: TableRef
    column: str


@dataclass(frozen=True)
class RelationshipRef:
    model: str
    key: str
    bind: str
    target_model: str
    target_bind: str
    lazy: str


@dataclass(frozen=True)
class Models:
    tables: tuple[TableRef, ...]
    foreign_keys: tuple[ForeignKeyRef, ...]
    relationships: tuple[RelationshipRef, ...]

    @property
    def binds(self) -> set[str]:
        return {t.bind for t in self.tables}


@dataclass(frozen=True)
class ModelFinding:
    code: str
    severity: Severity
    bind: str
    table: str | None
    model: str | None
    message: str
    fix: str | None = None


def _bind_of(table: Any) -> str:
    key = table.info.get("bind_key") or table.metadata.info.get("bind_key")
    return str(key) if key else DEFAULT_BIND


def inspect_models(obj: Any) -> Models:
    """Tables, foreign keys and relationships of a Flask-SQLAlchemy ``db``, a declarative
    base, or a ``MetaData``."""
    from sqlalchemy import MetaData  # lazily: only this command needs SQLAlchemy

    if isinstance(obj, MetaData):
        metadatas, registries = [obj], []
    elif hasattr(obj, "metadatas") and hasattr(obj, "Model"):  # Flask-SQLAlchemy 3.x
        metadatas, registries = list(obj.metadatas.values()), [obj.Model.registry]
    elif hasattr(obj, "metadata") and hasattr(obj, "registry"):  # a declarative base
        metadatas, registries = [obj.metadata], [obj.registry]
    else:
        raise PgpathError(f"{type(obj).__name__} is not a Flask-SQLAlchemy db, a declarative "
                          "base or a SQLAlchemy MetaData")
    mappers = [m for r in registries for m in r.mappers]
    model_of = {m.local_table: m.class_.__name__ for m in mappers
                if m.local_table is not None and not m.inherits}
    refs: dict[Any, TableRef] = {}
    for metadata in metadatas:
        for table in metadata.tables.values():
            refs[table] = TableRef(_bind_of(table), table.schema, table.name,
                                   model_of.get(table))
    fks = tuple(
        ForeignKeyRef(refs[table], refs[fk.column.table], fk.parent.name)
        for table in refs for fk in table.foreign_keys if fk.column.table in refs
    )
    relationships = tuple(
        RelationshipRef(m.class_.__name__, rel.key, _bind_of(m.local_table),
                        rel.mapper.class_.__name__, _bind_of(rel.mapper.local_table),
                        str(rel.lazy))
        for m in mappers for rel in m.relationships
    )
    return Models(tuple(refs.values()), fks, relationships)


def _table_args(schema: str) -> str:
    return f'__table_args__ = {{"schema": "{schema}"}}'


def check_models(
    models: Models,
    paths: Mapping[str, tuple[str, ...]],
    existing: Mapping[str, set[tuple[str, str]]],
    same_database: Callable[[str, str], bool],
) -> list[ModelFinding]:
    """``paths``: bind -> the schemas its role's sessions search (current_schemas(true));
    ``existing``: bind -> (schema, table) pairs in its database."""
    findings = list(_table_findings(models, paths, existing))
    for fk in models.foreign_keys:
        if fk.table.bind != fk.target.bind and not same_database(fk.table.bind, fk.target.bind):
            findings.append(ModelFinding(
                "PGM010", Severity.error, fk.table.bind, fk.table.qualified, fk.table.model,
                f"foreign key {fk.table.qualified}.{fk.column} -> {fk.target.qualified} crosses "
                f"from bind {fk.table.bind} to bind {fk.target.bind}, another database: "
                "PostgreSQL cannot enforce it (no referential integrity) and create_all fails",
                "drop the ForeignKey and check the reference in the application"))
    for rel in models.relationships:
        if rel.bind == rel.target_bind or same_database(rel.bind, rel.target_bind):
            continue
        where = f"{rel.model}.{rel.key} ({rel.bind}) -> {rel.target_model} ({rel.target_bind})"
        if rel.lazy in CROSS_DATABASE_LAZY:
            findings.append(ModelFinding(
                "PGM020", Severity.error, rel.bind, None, rel.model,
                f"relationship {where} uses lazy={rel.lazy!r}: one SQL statement is sent to "
                f"bind {rel.bind}'s database, which lacks {rel.target_model}'s table",
                f"{rel.key} = db.relationship(..., lazy=\"select\")"))
        else:
            findings.append(ModelFinding(
                "PGM021", Severity.info, rel.bind, None, rel.model,
                f"relationship {where} crosses databases: lazy={rel.lazy!r} loads it with a "
                "second query on the other bind, which works, but it cannot be joined in SQL"))
    return sorted(findings, key=lambda f: (-f.severity.rank, f.code, f.bind, f.table or "",
                                           f.model or ""))


def _table_findings(models: Models, paths: Mapping[str, tuple[str, ...]],
                    existing: Mapping[str, set[tuple[str, str]]]) -> Iterator[ModelFinding]:
    for t in models.tables:
        present = existing.get(t.bind, set())
        if t.schema is not None:
            if (t.schema, t.name) not in present:
                yield ModelFinding("PGM004", Severity.error, t.bind, t.qualified, t.model,
                                   f"{t.qualified} does not exist in bind {t.bind}'s database")
            continue
        path = paths.get(t.bind, ())
        found = [s for s in path if (s, t.name) in present]
        shown = ", ".join(path) or "(nothing)"
        if not found:
            yield ModelFinding("PGM001", Severity.error, t.bind, t.name, t.model,
                               f"unqualified table {t.name} resolves to no table: bind "
                               f"{t.bind}'s role searches {shown}")
            continue
        if len(found) > 1:
            yield ModelFinding("PGM002", Severity.warning, t.bind, t.name, t.model,
                               f"{t.name} exists in {', '.join(found)}, all on bind {t.bind}'s "
                               f"path: the session uses {found[0]}.{t.name}, and a change of "
                               "path silently switches it", _table_args(found[0]))
        yield ModelFinding("PGM003", Severity.info, t.bind, t.name, t.model,
                           f"unqualified table {t.name} resolves to {found[0]}.{t.name} through "
                           f"bind {t.bind}'s search path; pin the schema in the model",
                           _table_args(found[0]))
