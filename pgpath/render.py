"""Presentation: every result becomes a plain document (for JSON and YAML) and a table."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from .jsonio import dump_json
from .plan import Change, change_doc, changes_json, script
from .searchpath import SearchPath

if TYPE_CHECKING:  # only annotations: diff and apply need none of these modules
    from .audit import Finding
    from .model import Setting
    from .models import ModelFinding
    from .reads import ShowReport
    from .resolve import Entry, Layer, Resolution

T = TypeVar("T")


class Format(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


def tabulate(rows: list[list[Any]], headers: Any = (), **options: Any) -> str:
    """Tables of names: nothing is parsed as a number (a schema may be called 123)."""
    from tabulate import tabulate as _tabulate  # a table is the one output that needs it

    return _tabulate(rows, headers, disable_numparse=True, **options)


def _path(path: SearchPath | None) -> list[str] | None:
    return None if path is None else list(path.schemas)


def _text(path: SearchPath | None) -> str:
    return "(none)" if path is None else ("''" if path.is_empty else path.to_text())


def entry_doc(entry: Entry) -> dict[str, Any]:
    return {
        "element": entry.element, "schema": entry.schema, "exists": entry.exists,
        "usage": entry.usage, "create": entry.create, "searched": entry.searched,
        "implicit": entry.implicit, "note": entry.note,
    }


def show_doc(report: ShowReport) -> dict[str, Any]:
    s = report.session
    return {
        "user": s.user, "database": s.database, "search_path": _path(report.search_path),
        "raw": s.raw, "source": s.source, "effective": list(s.effective),
        "entries": [entry_doc(e) for e in report.entries],
    }


def setting_doc(setting: Setting, all_parameters: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "role": setting.scope.role, "database": setting.scope.database,
        "level": setting.scope.level.value,
        "search_path": _path(setting.search_path), "raw": setting.raw,
    }
    if all_parameters:
        doc["parameters"] = dict(setting.parameters)
    return doc


def layer_doc(layer: Layer) -> dict[str, Any]:
    return {
        "level": layer.level.value,
        "role": layer.scope.role if layer.scope else None,
        "database": layer.scope.database if layer.scope else None,
        "search_path": _path(layer.search_path), "raw": layer.raw,
        "wins": layer.wins, "note": layer.note,
    }


def resolution_doc(r: Resolution) -> dict[str, Any]:
    return {
        "role": r.role, "database": r.database, "search_path": _path(r.search_path),
        "raw": r.winner.raw, "source": r.source.value,
        "effective": None if r.effective is None else list(r.effective),
        "layers": [layer_doc(layer) for layer in r.layers],
        "schemas": None if r.entries is None else [entry_doc(e) for e in r.entries],
        "can_connect": r.can_connect, "notes": list(r.notes),
    }


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def entries_table(entries: tuple[Entry, ...]) -> str:
    rows = [
        [e.element if e.element is not None else "(implicit)", e.schema or "-",
         _yes(e.exists), _yes(e.usage), _yes(e.create), _yes(e.searched), e.note or ""]
        for e in entries
    ]
    return tabulate(rows, ["element", "schema", "exists", "usage", "create", "searched",
                           "note"])


def show_table(report: ShowReport) -> str:
    s = report.session
    head = tabulate([
        ["user", s.user], ["database", s.database],
        ["search_path", s.raw], ["parsed", _json_list(report.search_path.schemas)],
        ["source", s.source], ["effective", ", ".join(s.effective)],
    ], tablefmt="plain")
    return f"{head}\n\n{entries_table(report.entries)}"


def settings_table(rows: list[Setting], all_parameters: bool = False) -> str:
    headers = ["role", "database", "level", "search_path", "parsed"]
    table = []
    for s in rows:
        line = [s.scope.role or "(all roles)", s.scope.database or "(all databases)",
                s.scope.level.value, s.raw if s.raw is not None else "(none)",
                _json_list(s.search_path.schemas) if s.search_path is not None else ""]
        if all_parameters:
            line.append(", ".join(f"{k}={v}" for k, v in s.parameters))
        table.append(line)
    if all_parameters:
        headers.append("other parameters")
    return tabulate(table, headers) if table else "no stored search_path settings"


def resolution_table(r: Resolution) -> str:
    head = tabulate([
        ["role", r.role], ["database", r.database],
        ["search_path", _text(r.search_path)], ["parsed", _json_list(r.search_path.schemas)],
        ["source", r.source.value],
        ["effective", ", ".join(r.effective) if r.effective is not None else "(not checked)"],
    ], tablefmt="plain")
    layers = tabulate(
        [[layer.level.value, "<- wins" if layer.wins else "", _text(layer.search_path),
          layer.note or ""] for layer in r.layers],
        ["layer", "", "search_path", "note"],
    )
    parts = [head, layers]
    if r.entries is not None:
        parts.append(entries_table(r.entries))
    if r.notes:
        parts.append("\n".join(f"note: {n}" for n in r.notes))
    return "\n\n".join(parts)


def resolutions_table(results: list[Resolution]) -> str:
    rows = [
        [r.role, r.database, r.source.value, _text(r.search_path),
         ", ".join(r.effective) if r.effective is not None else "(not checked)"]
        for r in results
    ]
    return tabulate(rows, ["role", "database", "source", "search_path", "effective"])


def finding_doc(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "severity": f.severity.value, "title": f.check.title,
            "role": f.role, "database": f.database, "schema": f.schema,
            "function": f.function, "message": f.message, "fix": f.fix}


def _findings_text(findings: list[Any], where: Callable[[Any], dict[str, str | None]]) -> str:
    """Each finding on one line (severity, code, where, message), its fix on the next; a
    count at the end."""
    if not findings:
        return "no findings"
    lines = []
    for f in findings:
        place = " ".join(f"{k}={v}" for k, v in where(f).items() if v)
        lines.append(f"{f.severity.value:<7} {f.code}  {place}: {f.message}")
        if f.fix:
            lines.append(f"{'':<16}fix: {f.fix}")
    counts = Counter(f.severity.value for f in findings)
    lines += ["", f"{counts['error']} error(s), {counts['warning']} warning(s), "
                  f"{counts['info']} info"]
    return "\n".join(lines)


def findings_text(findings: list[Finding]) -> str:
    return _findings_text(findings, lambda f: {
        "role": f.role, "database": f.database,
        **({"function": f.function} if f.function else {"schema": f.schema})})


def model_finding_doc(f: ModelFinding) -> dict[str, Any]:
    return {"code": f.code, "severity": f.severity.value, "bind": f.bind, "table": f.table,
            "model": f.model, "message": f.message, "fix": f.fix}


def model_findings_text(findings: list[ModelFinding]) -> str:
    return _findings_text(findings, lambda f: {"bind": f.bind, "model": f.model,
                                               "table": f.table})


def _json_list(items: tuple[str, ...]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


def dump_yaml(doc: Any) -> str:
    """YAML with lists of names in flow style (``[app, public]``), as policies are written."""
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc, valid-type]
        pass

    def represent_list(dumper: Any, data: list[Any]) -> Any:
        flat = all(isinstance(item, str) for item in data)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)

    Dumper.add_representer(list, represent_list)
    return yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=1000)


def emit(doc: Any, fmt: Format, table: Callable[[], str]) -> None:
    """Print a document in the chosen format (the table is built only when asked for)."""
    if fmt is Format.json:
        text = dump_json(doc)
    elif fmt is Format.yaml:
        text = dump_yaml(doc).rstrip("\n")
    else:
        text = table()
    sys.stdout.write(text + "\n")


def progress(items: Iterator[T], total: int, label: str) -> Iterator[T]:
    """Show progress on stderr when it is a terminal; stay quiet otherwise."""
    if not sys.stderr.isatty() or total < 2:
        yield from items
        return
    for done, item in enumerate(items, 1):
        sys.stderr.write(f"\r{label}: {done}/{total}")
        sys.stderr.flush()
        yield item
    sys.stderr.write("\r\033[K")
    sys.stderr.flush()


class DiffFormat(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"
    sql = "sql"


def changes_table(changes: tuple[Change, ...]) -> str:
    if not changes:
        return "nothing differs"
    rows = [[c.action, c.scope.role or "(all roles)", c.scope.database or "(all databases)",
             _text(c.before), _text(c.after)] for c in changes]
    return tabulate(rows, ["action", "role", "database", "from", "to"])


SUMMARY_OVER = 100


def changes_summary(changes: tuple[Change, ...]) -> str:
    """For long plans: how many changes of each kind (the full list is in the snapshot, and
    ``pgpath diff --format table|sql`` shows it)."""
    counts = Counter((c.action, c.scope.level.value) for c in changes)
    rows = [[action, level, n] for (action, level), n in sorted(counts.items())]
    return (f"{len(changes)} changes (the full list: pgpath diff FILE --format table)\n"
            + tabulate(rows, ["action", "level", "changes"]))


def emit_changes(changes: tuple[Change, ...] | list[Change], fmt: DiffFormat) -> None:
    """Changes as a table, JSON/YAML documents, or exactly the SQL apply would run."""
    changes = tuple(changes)
    if fmt is DiffFormat.sql:
        sys.stdout.write(script(changes).as_string(None))
        return
    if fmt is DiffFormat.json:
        sys.stdout.write(dump_json(changes_json(changes)) + "\n")
        return
    emit([change_doc(c) for c in changes], Format(fmt.value), lambda: changes_table(changes))


def emit_target_changes(per_target: list[tuple[str, tuple[Change, ...]]],
                        fmt: DiffFormat) -> None:
    """Changes of several clusters: JSON/YAML items carry a ``target`` key, tables and SQL
    come in one section per target."""
    if fmt in (DiffFormat.json, DiffFormat.yaml):
        docs = [{"target": name, **change_doc(c)} for name, changes in per_target
                for c in changes]
        emit(docs, Format(fmt.value), lambda: "")
        return
    for name, changes in per_target:
        if fmt is DiffFormat.sql:
            sys.stdout.write(f"-- target {name}\n" + script(changes).as_string(None))
        else:
            sys.stdout.write(f"== target {name}\n{changes_table(changes)}\n")
