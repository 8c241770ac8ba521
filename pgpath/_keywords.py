"""PostgreSQL keywords that ``quote_identifier`` quotes (every category but unreserved).

Taken from ``pg_get_keywords()`` of PostgreSQL 15 and 18; names that became keywords later
are quoted only by servers of that version or newer.
"""

from __future__ import annotations

from functools import cache

LATEST = 18

_SINCE_15 = frozenset(
    """
    all analyse analyze and any array as asc asymmetric authorization between bigint binary
    bit boolean both case cast char character check coalesce collate collation column
    concurrently constraint create cross current_catalog current_date current_role
    current_schema current_time current_timestamp current_user dec decimal default
    deferrable desc distinct do else end except exists extract false fetch float for foreign
    freeze from full grant greatest group grouping having ilike in initially inner inout int
    integer intersect interval into is isnull join lateral leading least left like limit
    localtime localtimestamp national natural nchar none normalize not notnull null nullif
    numeric offset on only or order out outer overlaps overlay placing position precision
    primary real references returning right row select session_user setof similar smallint
    some substring symmetric table tablesample then time timestamp to trailing treat trim
    true union unique user using values varchar variadic verbose when where window with
    xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi
    xmlroot xmlserialize xmltable
    """.split()
)

# keyword -> first major version that quotes it
_ADDED = {
    "json": 16,
    "json_array": 16,
    "json_arrayagg": 16,
    "json_exists": 17,
    "json_object": 16,
    "json_objectagg": 16,
    "json_query": 17,
    "json_scalar": 17,
    "json_serialize": 17,
    "json_table": 17,
    "json_value": 17,
    "merge_action": 17,
    "system_user": 16,
}


@cache
def quoted_keywords(server_version: int | None = None) -> frozenset[str]:
    """Keywords quoted by a server of ``server_version`` (major or ``server_version_num``)."""
    major = LATEST if server_version is None else server_version
    if major >= 10000:
        major //= 10000
    return _SINCE_15 | {w for w, v in _ADDED.items() if v <= major}
