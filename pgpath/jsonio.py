"""pgpath's JSON: command output, plans and snapshots.

Lists are written one compact item per line: readable, easy to grep and diff, and written by
json's C encoder (which does not indent), so thousands of changes cost little.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PgpathError

# One encoder for every item: json.dumps with options builds a new one per call.
_compact = json.JSONEncoder(ensure_ascii=False).encode


def encode(value: Any) -> str:
    """One value as compact JSON text (as each item of a list is written)."""
    return _compact(value)


@dataclass(frozen=True)
class Encoded:
    """A list whose items are already JSON text, one complete value each, as ``encode``
    writes them (for the few documents with thousands of items of a known shape). Only
    ``dump_json`` writes it; any other encoder refuses it rather than quoting the items."""

    items: list[str]


def _items(items: list[Any] | Encoded, indent: str) -> str:
    encoded = items.items if isinstance(items, Encoded) else list(map(_compact, items))
    if not encoded:
        return "[]"
    inner = f",\n{indent}  ".join(encoded)
    return f"[\n{indent}  {inner}\n{indent}]"


def dump_json(doc: Any) -> str:
    """A list: one item per line. An object: one key per line, its lists one item per line."""
    if isinstance(doc, list | Encoded):
        return _items(doc, "")
    if isinstance(doc, dict) and doc:
        lines = [f"  {_compact(k)}: "
                 f"{_items(v, '  ') if isinstance(v, list | Encoded) else _compact(v)}"
                 for k, v in doc.items()]
        return "{\n" + ",\n".join(lines) + "\n}"
    return _compact(doc)


def read_json(path: Path, marker: str, what: str) -> dict[str, Any]:
    """A pgpath file (plan, snapshot) marked with ``marker: 1``; one clear error otherwise."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PgpathError(f"{path}: cannot read {what}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", 1)
        raise PgpathError(f"{path}:{line}: not a pgpath {what} (invalid JSON)") from None
    if not isinstance(doc, dict) or doc.get(marker) != 1:
        raise PgpathError(f"{path}: not a pgpath {what} (no '{marker}: 1')")
    return doc
