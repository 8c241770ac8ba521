"""The JSON Schema of a policy file, published by ``pgpath schema`` for editors."""

from __future__ import annotations

from typing import Any


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
    sections = {
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
    }
    name = {"type": "string", "minLength": 1}
    target = {
        "type": "object", "additionalProperties": False,
        "description": "One cluster: dsn_env (an environment variable holding the DSN) or "
                       "service (a libpq service name), optionally read_dsn_env or "
                       "read_service for reads; never a DSN itself.",
        "oneOf": [{"required": ["dsn_env"]}, {"required": ["service"]}],
        "properties": {"dsn_env": name, "service": name, "read_dsn_env": name,
                       "read_service": name, **sections},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pgpath policy",
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "$defs": {"path": path, "target": target},
        "properties": {
            "version": {"const": 1},
            **sections,
            "targets": {"type": "object", "minProperties": 1,
                        "additionalProperties": {"$ref": "#/$defs/target"}},
        },
        "oneOf": [{"required": ["targets"], "properties": {k: False for k in sections}},
                  {"not": {"required": ["targets"]}}],
    }
