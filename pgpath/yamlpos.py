"""YAML loading for policy files.

``load_yaml`` (PyYAML, composing with libyaml when available) keeps positions for messages
that point at ``file:line:column`` and reports syntax errors and duplicate keys.
``fast_load`` reads, without positions, the simple subset almost every policy file is written
in (all that ``export`` writes) and returns None for anything else; callers try it first and
read the file again with ``load_yaml`` when it declines or when they have a problem to report.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any


class YamlProblem(Exception):
    """Invalid YAML, at a 1-based line and column."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def position(node: Any, key: Any) -> tuple[int, int]:
    """1-based (line, column) of ``node[key]``'s key (mappings) or item (lists)."""
    if isinstance(node, PositionedMap):
        return node.keys_at.get(key, node.at)
    if isinstance(node, PositionedList):
        return node.items_at[key] if isinstance(key, int) and key < len(node) else node.at
    return (1, 1)


class PositionedMap(dict):  # type: ignore[type-arg]
    """A mapping that remembers where it and each of its keys stand in the file."""

    at: tuple[int, int]
    keys_at: dict[Any, tuple[int, int]]


class PositionedList(list):  # type: ignore[type-arg]
    at: tuple[int, int]
    items_at: list[tuple[int, int]]


_STR_TAG = "tag:yaml.org,2002:str"


def _mark(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_yaml(text: str) -> Any:
    """YAML to plain values that keep their positions; duplicate keys are errors."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlProblem(line, col, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, f"invalid YAML: {exc}") from None
    scalars = yaml.constructor.SafeConstructor()

    def build(node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            result = PositionedMap()
            result.at, result.keys_at = _mark(node), {}
            for key_node, value_node in node.value:
                key = build(key_node)
                if isinstance(key, list | dict):
                    raise YamlProblem(*_mark(key_node), "a key must be a name, not a collection")
                if key in result:
                    raise YamlProblem(*_mark(key_node), f"duplicate key {key!r}")
                result[key] = build(value_node)
                result.keys_at[key] = _mark(key_node)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = PositionedList(build(item) for item in node.value)
            items.at, items.items_at = _mark(node), [_mark(item) for item in node.value]
            return items
        if node.tag == _STR_TAG:
            return node.value
        try:
            return scalars.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            raise YamlProblem(*_mark(node), f"invalid value: {exc.problem}") from None

    return None if root is None else build(root)


# The simple subset: block mappings (keys indented with spaces) whose values are flow lists
# or single scalars, each a plain word, a single-quoted or a double-quoted string without
# escapes, on one line, with comments. PyYAML takes half a second to compose a file naming
# 10,000 roles; this takes a tenth of that. Anything outside the subset gets None. A test
# compares both readers on generated files.

# A plain word starts with a letter, digit, _, $ or any non-ASCII character (never with one of
# YAML's indicators), has single spaces inside, and no flow indicator, ':' or '#' at all.
# (The first character's class is written as "no ASCII other than letters, digits, _ and $":
# the same set as [A-Za-z0-9_$\u0080-\U0010ffff], ten times quicker to compile.)
_PLAIN = r"[^\x00-#%-/:-@\[-^`{-\x7f][^\s,\[\]{}#:]*(?: [^\s,\[\]{}#:]+)*"
_SINGLE = r"'(?:[^']|'')*'"
_DOUBLE = r'"[^"\\]*"'
_SCALAR = rf"(?:{_PLAIN}|{_SINGLE}|{_DOUBLE})"
_FLOW = rf"\[ *(?:{_SCALAR} *(?:, *{_SCALAR} *)*(?:, *)?)?\]"
_LINE = re.compile(
    rf"( *)({_SCALAR}):(?: +(?:({_FLOW})|({_SCALAR})))?(?: +#.*)? *"
)
_ITEM = re.compile(rf"({_SCALAR}) *[,\]]")
_SKIP = re.compile(r" *(?:#.*)?")
# What PyYAML's YAML 1.1 resolver makes of plain words other than strings.
_NULL_WORDS = frozenset(("null", "Null", "NULL"))
_BOOL_WORDS = frozenset(
    w for word in ("yes", "no", "true", "false", "on", "off")
    for w in (word, word.capitalize(), word.upper())
)
_WORDS = _NULL_WORDS | _BOOL_WORDS
_QUOTES = frozenset("'\"")
_DIGITS = frozenset("0123456789")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_NOT_STR = object()  # a plain word PyYAML would not read as a string: leave it to PyYAML
# Characters PyYAML refuses (its reader's NON_PRINTABLE), tabs, carriage returns, BOMs, and
# NEL and the Unicode separators, which YAML 1.1 reads as line breaks. The class is costly to
# compile, and needed only for text that is not ASCII.
_UNUSUAL_ASCII = re.compile("[^\n\x20-\x7e]")


@cache
def _unusual() -> re.Pattern[str]:
    return re.compile("[^\x0a\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                      "\U00010000-\U0010ffff]")


def _scalar(token: str) -> Any:
    first = token[0]
    if first == "'":
        return token[1:-1].replace("''", "'")
    if first == '"':
        return token[1:-1]
    if token in _NULL_WORDS:
        return None
    if first in _DIGITS:
        return int(token) if _DECIMAL.fullmatch(token) else _NOT_STR
    if token in _BOOL_WORDS:
        return _NOT_STR
    return token


def fast_load(text: str) -> Any:
    """The document as plain values if the text is in the simple subset, else None.

    No positions: a caller that finds a problem reads the file again with ``load_yaml``.
    """
    if "\r\n" in text:  # a file saved on Windows: the same lines for YAML
        text = text.replace("\r\n", "\n")
    if (_UNUSUAL_ASCII if text.isascii() else _unusual()).search(text):
        return None
    root: dict[str, Any] = {}
    frames: list[tuple[int, dict[str, Any]]] = []  # (indent of the keys, mapping)
    open_key: tuple[dict[str, Any], str, int] | None = None  # a key whose value is below
    flows: dict[str, tuple[Any, ...]] = {}  # the same lists recur on thousands of lines
    for line in text.split("\n"):
        match = _LINE.fullmatch(line)
        if match is None:
            if _SKIP.fullmatch(line):
                continue
            return None
        spaces, key, flow, scalar = match.groups()
        indent = len(spaces)
        if open_key is not None:
            parent, parent_key, parent_indent = open_key
            open_key = None
            if indent > parent_indent:
                parent[parent_key] = child = {}
                frames.append((indent, child))
        elif not frames:
            if indent:
                return None
            frames.append((0, root))
        while frames[-1][0] > indent:
            frames.pop()
        if frames[-1][0] != indent:
            return None
        mapping = frames[-1][1]
        if key[0] in _QUOTES or key in _WORDS or key[0] in _DIGITS:
            key = _scalar(key)
            if not isinstance(key, str):
                return None
        if key in mapping:
            return None
        if flow is not None:
            values = flows.get(flow)
            if values is None:
                values = flows[flow] = tuple(_scalar(t) for t in _ITEM.findall(flow))
                if _NOT_STR in values:
                    return None
            mapping[key] = list(values)
        elif scalar is not None:
            value = _scalar(scalar)
            if value is _NOT_STR:
                return None
            mapping[key] = value
        else:
            mapping[key] = None
            open_key = (mapping, key, indent)
    return root if frames else None
