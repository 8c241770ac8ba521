"""Flask / SQLAlchemy configuration as a source of connections.

``SQLALCHEMY_DATABASE_URI`` and ``SQLALCHEMY_BINDS`` (plain URLs, or Flask-SQLAlchemy 3.x
engine-option dicts with a ``url`` key) from a config object, class, module or dict, named by
``module:object``. Binds that point to the same cluster and database are recognised as one.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from .connection import normalize_dsn
from .errors import PgpathError

DEFAULT_BIND = "default"


@dataclass(frozen=True)
class Bind:
    """One bind: its key, and where it connects (the conninfo may hold a password: never
    print it, use ``where``)."""

    name: str
    conninfo: str
    user: str | None
    database: str | None
    host: str | None
    port: str | None

    @property
    def cluster_database(self) -> tuple[str | None, str | None, str | None]:
        return self.host, self.port, self.database

    @property
    def where(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host or 'localhost'}:{self.port or 5432}/{self.database or ''}"


def load_object(spec: str) -> Any:
    """``package.module:attr.attr`` -> the object (the current directory is importable)."""
    module_name, _, attrs = spec.partition(":")
    if not module_name or not attrs:
        raise PgpathError(f"{spec!r}: expected module:object, e.g. app.config:Config")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise PgpathError(f"{spec}: cannot import {module_name}: {exc}") from None
    except Exception as exc:  # the user's module failed while importing
        raise PgpathError(f"{spec}: importing {module_name} failed: {exc!r}") from None
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise PgpathError(f"{spec}: {module_name} has no {attrs}") from None
    return obj


def _setting(config: Any, key: str) -> Any:
    if hasattr(config, "config") and isinstance(config.config, Mapping):  # a Flask app
        config = config.config
    if isinstance(config, Mapping):
        return config.get(key)
    return getattr(config, key, None)


def _url(value: Any, name: str) -> str:
    if isinstance(value, Mapping):  # Flask-SQLAlchemy 3.x: engine options with a url
        value = value.get("url")
    if value is None:
        raise PgpathError(f"bind {name}: no url")
    text = value.render_as_string(hide_password=False) if hasattr(
        value, "render_as_string") else str(value)
    return text


def binds_from_config(config: Any) -> list[Bind]:
    """Every bind of a Flask config: the default URI as ``default``, then the binds."""
    found: dict[str, Any] = {}
    default = _setting(config, "SQLALCHEMY_DATABASE_URI")
    if default:
        found[DEFAULT_BIND] = default
    extra = _setting(config, "SQLALCHEMY_BINDS") or {}
    if not isinstance(extra, Mapping):
        raise PgpathError("SQLALCHEMY_BINDS must be a mapping of bind keys to URLs")
    found.update({str(k): v for k, v in extra.items() if k is not None})
    if not found:
        raise PgpathError("no SQLALCHEMY_DATABASE_URI or SQLALCHEMY_BINDS in that object")
    binds = []
    for name, value in found.items():
        url = _url(value, name)
        try:
            conninfo = normalize_dsn(url)
        except PgpathError as exc:
            raise PgpathError(f"bind {name}: {exc}") from None
        params = conninfo_to_dict(conninfo)
        binds.append(Bind(name, conninfo, _str(params.get("user")), _str(params.get("dbname")),
                          _str(params.get("host")), _str(params.get("port"))))
    return binds


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def load_binds(spec: str) -> list[Bind]:
    return binds_from_config(load_object(spec))


def group_binds(binds: list[Bind]) -> list[list[Bind]]:
    """Binds that reach the same cluster and database, together (in first-seen order)."""
    groups: dict[tuple[str | None, str | None, str | None], list[Bind]] = {}
    for bind in binds:
        groups.setdefault(bind.cluster_database, []).append(bind)
    return list(groups.values())
