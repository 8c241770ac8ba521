"""The search_path value: a list of exact schema names, parsed and rendered as PostgreSQL does.

Parsing follows ``SplitIdentifierString`` (``varlena.c``): elements separated by commas,
whitespace around them ignored, double-quoted elements kept exactly (``""`` is one quote),
unquoted ones folded to lower case (ASCII only) and every element truncated to 63 bytes.
Rendering follows ``quote_identifier`` (``ruleutils.c``), which is how PostgreSQL stores
the list in ``pg_db_role_setting`` and prints it in ``SHOW``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from psycopg import sql

from ._keywords import quoted_keywords
from .errors import PgpathError

NAMEDATALEN = 64
MAX_NAME_BYTES = NAMEDATALEN - 1
# No name of this many characters or fewer can exceed MAX_NAME_BYTES in UTF-8.
SHORT_NAME_CHARS = MAX_NAME_BYTES // 4
USER_ELEMENT = "$user"
_SPACE = " \t\n\r\f\v"  # scanner_isspace()
_SAFE_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz_")
_SAFE = _SAFE_FIRST | frozenset("0123456789")


class SearchPathSyntaxError(PgpathError):
    """The text is not a valid search_path list."""


def truncate_name(name: str) -> str:
    """The name as PostgreSQL keeps it: at most 63 bytes, cut on a character boundary."""
    if len(name) <= SHORT_NAME_CHARS:
        return name
    encoded = name.encode("utf-8")
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    return encoded[:MAX_NAME_BYTES].decode("utf-8", errors="ignore")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# One element: a quoted name ("" is a quote) or a bare word (which may contain quotes after
# its first character, as in PostgreSQL), then a comma or the end.
_ELEMENT = re.compile(
    rf'[{_SPACE}]*(?:"((?:[^"]|"")*)"|([^",{_SPACE}][^,{_SPACE}]*))[{_SPACE}]*(,|\Z)'
)


def split_identifiers(text: str) -> list[str]:
    """Split a comma-separated identifier list exactly as PostgreSQL does."""
    if not text.strip(_SPACE):
        return []
    names: list[str] = []
    pos = 0
    while True:
        match = _ELEMENT.match(text, pos)
        if match is None:
            if pos < len(text) and text[pos:].lstrip(_SPACE).startswith('"') \
                    and text.count('"', pos) % 2:
                raise SearchPathSyntaxError(f"unterminated quoted name in {text!r}")
            if not text[pos:].strip(_SPACE) or text[pos:].lstrip(_SPACE).startswith(","):
                raise SearchPathSyntaxError(f"empty name in search path {text!r}")
            raise SearchPathSyntaxError(f"invalid search path {text!r}: expected ',' at {pos}")
        quoted, bare, separator = match.groups()
        name = quoted.replace('""', '"') if quoted is not None else bare.translate(_ASCII_LOWER)
        names.append(truncate_name(name))
        if not separator:
            return names
        pos = match.end()


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
        return _parse_cached(text) if cls is SearchPath else cls(tuple(split_identifiers(text)))

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


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> SearchPath:
    # Clusters hold thousands of settings but few distinct values.
    return SearchPath(tuple(split_identifiers(text)))


def as_search_path(value: SearchPath | str | Iterable[str]) -> SearchPath:
    """A SearchPath from a list of exact names, or from text read with PostgreSQL's rules."""
    if isinstance(value, SearchPath):
        return value
    if isinstance(value, str):
        return SearchPath.parse(value)
    return SearchPath(tuple(value))
