"""Hypothesis strategies for schema names PostgreSQL accepts."""

from __future__ import annotations

from hypothesis import strategies as st

from pgpath._keywords import quoted_keywords

# Characters that stress quoting: case, separators, quotes, '=', '$', spaces, non-ASCII.
_ALPHABET = st.sampled_from(
    list("abcxyz_019") + list("ABCZ") + list(' ,"=$.-\t') + ["é", "ß", "Ж", "日", "😀"]
)

plain_names = st.text(_ALPHABET, min_size=1, max_size=20)
keywords = st.sampled_from([*sorted(quoted_keywords(15)), "name", "public", "$user"])
long_names = st.integers(min_value=60, max_value=66).flatmap(
    lambda n: st.sampled_from(["a" * n, "é" * (n // 2), "x" * (n - 2) + "日"])
)

schema_names = st.one_of(plain_names, keywords, long_names)
# Names PostgreSQL keeps as given (at most 63 bytes).
exact_names = schema_names.filter(lambda s: len(s.encode()) <= 63)
paths = st.lists(exact_names, min_size=1, max_size=5)
