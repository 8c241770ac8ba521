"""The search_path value: a list of exact schema names, parsed and rendered as PostgreSQL does.

Parsing follows ``SplitIdentifierString`` (``varlena.c``): elements separated by commas,
whitespace around them ignored, double-quoted elements kept exactly (``""`` is one quote),
unquoted ones folded to lower case (ASCII only) and every element truncated to 63 bytes.
Rendering follows ``quote_identifier`` (``ruleutils.c``), which is how PostgreSQL stores
the list in ``pg_db_role_setting`` and prints it in ``SHOW``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from psycopg import sql

from ._keywords import quoted_keywords
from .errors import PgpathError

NAMEDATALEN = 64
MAX_NAME_BYTES = NAMEDATALEN - 1
USER_ELEMENT = "$user"
_SPACE = " \t\n\r\f\v"  # scanner_isspace()
_SAFE_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz_")
_SAFE = _SAFE_FIRST | frozenset("0123456789")


class SearchPathSyntaxError(PgpathError):
    """The text is not a valid search_path list."""


def truncate_name(name: str) -> str:
    """The name as PostgreSQL keeps it: at most 63 bytes, cut on a character boundary."""
    encoded = name.encode("utf-8")
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    return encoded[:MAX_NAME_BYTES].decode("utf-8", errors="ignore")


def _fold(name: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in name)


def split_identifiers(text: str) -> list[str]:
    """Split a comma-separated identifier list exactly as PostgreSQL does."""
    names: list[str] = []
    pos, end = 0, len(text)

    def skip_space(i: int) -> int:
        while i < end and text[i] in _SPACE:
            i += 1
        return i

    pos = skip_space(pos)
    if pos == end:
        return names
    while True:
        if text[pos] == '"':
            chunks: list[str] = []
            pos += 1
            while True:
                close = text.find('"', pos)
                if close < 0:
                    raise SearchPathSyntaxError(f"unterminated quoted name in {text!r}")
                chunks.append(text[pos:close])
                if close + 1 < end and text[close + 1] == '"':
                    chunks.append('"')
                    pos = close + 2
                    continue
                pos = close + 1
                break
            name = "".join(chunks)
        else:
            start = pos
            while pos < end and text[pos] != "," and text[pos] not in _SPACE:
                pos += 1
            if pos == start:
                raise SearchPathSyntaxError(f"empty name in search path {text!r}")
            name = _fold(text[start:pos])
        names.append(truncate_name(name))
        pos = skip_space(pos)
        if pos == end:
            return names
        if text[pos] != ",":
            raise SearchPathSyntaxError(f"invalid search path {text!r}: expected ',' at {pos}")
        pos = skip_space(pos + 1)
        if pos == end:
            raise SearchPathSyntaxError(f"empty name in search path {text!r}")


def quote_identifier(name: str, server_version: int | None = None) -> str:
    """Quote ``name`` only where PostgreSQL would (lower-case ASCII words that are not keywords
    are left bare)."""
    if (
        name
        and name[0] in _SAFE_FIRST
        and all(c in _SAFE for c in name)
        and name not in quoted_keywords(server_version)
    ):
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class SearchPath:
    """An ordered list of exact schema names. ``SearchPath(())`` is the empty path (``''``)."""

    schemas: tuple[str, ...]

    def __post_init__(self) -> None:
        # SET search_path = '' is stored as "", one empty name: both mean "no schemas".
        if self.schemas == ("",):
            object.__setattr__(self, "schemas", ())

    @classmethod
    def of(cls, *schemas: str) -> SearchPath:
        return cls(tuple(schemas))

    @classmethod
    def parse(cls, text: str) -> SearchPath:
        """Read a stored or ``SHOW`` value (``"$user", public``) with PostgreSQL's rules."""
        return cls(tuple(split_identifiers(text)))

    def __iter__(self) -> Iterator[str]:
        return iter(self.schemas)

    def __len__(self) -> int:
        return len(self.schemas)

    @property
    def is_empty(self) -> bool:
        return not self.schemas

    def to_text(self, server_version: int | None = None) -> str:
        """The text PostgreSQL stores for this list (and ``SHOW`` prints)."""
        if not self.schemas:
            return '""'
        return ", ".join(quote_identifier(s, server_version) for s in self.schemas)

    def to_sql(self) -> sql.Composable:
        """The right-hand side of ``SET search_path = ...``: one identifier per element."""
        if not self.schemas:
            return sql.Literal("")
        return sql.SQL(", ").join(
            sql.Identifier(s) if s else sql.Literal("") for s in self.schemas
        )

    def truncated(self) -> SearchPath:
        """The list PostgreSQL will actually keep (names cut to 63 bytes)."""
        return SearchPath(tuple(truncate_name(s) for s in self.schemas))

    def __str__(self) -> str:
        return self.to_text()


def as_search_path(value: SearchPath | str | Iterable[str]) -> SearchPath:
    """A SearchPath from a list of exact names, or from text read with PostgreSQL's rules."""
    if isinstance(value, SearchPath):
        return value
    if isinstance(value, str):
        return SearchPath.parse(value)
    return SearchPath(tuple(value))
