"""YAML loading that keeps positions, for messages that point at ``file:line:column``.

libyaml composes the nodes when it is available (fast on files naming thousands of roles);
the values are built here, which is where duplicate keys are caught.
"""

from __future__ import annotations

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
