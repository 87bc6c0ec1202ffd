"""Access and fail-fast (issue 13): passwords enforced on TCP, every role as itself on an external
warehouse, no password on a command line, connect timeouts, damaged data dirs named with a fix."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from click.testing import CliRunner

from ingestion.warehouse import EmbeddedPostgres, WarehouseError, WarehouseSettings, connect, init_warehouse
from ingestion.warehouse.server import postgres_bin_dir
from ingestion.warehouse.settings import PASSWORD_VARS, dbt_env
from orchestration.cli import main, psql_invocation
from tests.conftest import free_port

EXTERNAL_DB = "journey_external_access"
ROLE_URL_VARS = ("WAREHOUSE_LOADER_URL", "WAREHOUSE_TRANSFORMER_URL", "WAREHOUSE_REPORTER_URL")


def _refused(url: str) -> str:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(url, connect_timeout=5)
    return str(info.value)


def test_embedded_server_requires_each_roles_own_password(warehouse: WarehouseSettings):
    base = f"127.0.0.1:{warehouse.port}/{warehouse.database}"
    assert "password authentication failed" in _refused(f"postgresql://reporter:wrong@{base}")
    assert "no password supplied" in _refused(f"postgresql://reporter@{base}")
    assert "no password supplied" in _refused(f"postgresql://postgres@{base}")
    # another role's password is not the reporter's
    assert "password authentication failed" in _refused(
        f"postgresql://reporter:{warehouse.role_password('loader')}@{base}"
    )
    with psycopg.connect(warehouse.role_url("reporter")) as conn:
        assert conn.execute("select current_user").fetchone() == ("reporter",)
    secrets = warehouse.secrets_file
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets.parent.stat().st_mode) == 0o700
    assert not secrets.is_relative_to(warehouse.data_dir)  # survives moving a damaged data dir away


def test_trust_data_dir_is_migrated_on_up(tmp_path: Path):
    """A data dir made by the first release (`initdb --auth=trust`), running and then stopped."""
    settings = WarehouseSettings(port=free_port(), data_dir=tmp_path / "pg")
    server = EmbeddedPostgres(settings)
    server._prepare_data_dir()
    bin_dir = postgres_bin_dir()
    d = str(settings.data_dir)
    server._run(
        bin_dir / "initdb", "-D", d, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"
    )
    server._run(
        bin_dir / "pg_ctl",
        "-w",
        "-D",
        d,
        "-l",
        f"{d}/server.log",
        "-o",
        f"-p {settings.port} -k {d}",
        "start",
    )
    no_password = f"postgresql://postgres@127.0.0.1:{settings.port}/postgres"
    try:
        with psycopg.connect(no_password, autocommit=True) as conn:  # what the first release allowed
            conn.execute("create role reporter login")
        assert "passwords now required" in server.up().message  # migrated while running
        assert "no password supplied" in _refused(no_password)
        with psycopg.connect(settings.role_url("reporter")) as conn:  # its stored password was set
            assert conn.execute("select current_user").fetchone() == ("reporter",)
        server.down()
        # stopped with a trust pg_hba.conf again (e.g. restored from an old backup): fixed before start
        (settings.data_dir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        assert server.up().message == "started"
        assert "no password supplied" in _refused(no_password)
        assert "password authentication failed" in _refused(
            f"postgresql://reporter:wrong@127.0.0.1:{settings.port}/journey"
        )
    finally:
        server.down()


@pytest.fixture()
def external(warehouse: WarehouseSettings, monkeypatch) -> WarehouseSettings:
    """The session server seen as an external warehouse through an admin-only WAREHOUSE_URL, in a
    database of its own; the role passwords in the environment are the ones the roles already have
    (roles belong to the whole server: other tests keep connecting with them)."""
    db = EXTERNAL_DB
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {db} with (force)")
        conn.execute(f"create database {db}")
    monkeypatch.setenv("WAREHOUSE_URL", dataclasses.replace(warehouse, database=db).role_url("admin"))
    for var in ROLE_URL_VARS:
        monkeypatch.delenv(var, raising=False)
    for role, var in PASSWORD_VARS.items():
        monkeypatch.setenv(var, warehouse.role_password(role))
    yield WarehouseSettings.from_env()
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {db} with (force)")


def test_external_url_every_role_connects_as_itself(external: WarehouseSettings, warehouse, monkeypatch):
    init_warehouse(external)
    for role, user in (
        ("loader", "journey_loader"),
        ("transformer", "journey_transformer"),
        ("reporter", "reporter"),
    ):
        with connect(role, external) as conn:
            assert conn.execute("select current_user, current_database()").fetchone() == (
                user,
                EXTERNAL_DB,
            )
    with connect("loader", external, autocommit=True) as conn:
        conn.execute("create table shopify.access_probe (email text)")
    with connect("reporter", external) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from shopify.access_probe")
    # `url --role reporter` shows the reporter's own URL only: never the admin's password
    out = CliRunner().invoke(main, ["warehouse", "url", "--role", "reporter", "--show-password"]).output
    assert out.startswith("postgresql://reporter:") and warehouse.role_password("admin") not in out

    monkeypatch.delenv("REPORTER_PASSWORD")
    with pytest.raises(WarehouseError, match="REPORTER_PASSWORD is not.*never as the admin"):
        external.role_url("reporter")
    for command in (["warehouse", "init"], ["warehouse", "url", "--role", "reporter"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1 and "REPORTER_PASSWORD" in result.output, result.output
        assert warehouse.role_password("admin") not in result.output


def test_psql_gets_the_password_from_the_environment_not_argv(warehouse: WarehouseSettings):
    password = warehouse.role_password("reporter")
    argv, env = psql_invocation(warehouse, "reporter", ("-At", "-c", "select current_user"))
    assert not any(password in arg for arg in argv) and env["PGPASSWORD"] == password
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "reporter"
    # the real command, as `ps` sees it once it has exec'd psql
    cli = [sys.executable, "-m", "orchestration.cli", "warehouse", "psql", "--role", "reporter"]
    proc = subprocess.Popen([*cli, "-c", "select pg_sleep(1)"], stdout=subprocess.DEVNULL)
    try:
        deadline, seen = time.monotonic() + 15, []
        while time.monotonic() < deadline and not (seen and Path(seen[0]).name == "psql"):
            seen = psutil.Process(proc.pid).cmdline()
            time.sleep(0.05)
        assert Path(seen[0]).name == "psql" and not any(password in arg for arg in seen), seen
    finally:
        assert proc.wait(timeout=20) == 0


def test_unreachable_host_fails_within_the_timeout_naming_it(monkeypatch):
    with socket.socket() as silent:  # accepts the TCP handshake (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        port = silent.getsockname()[1]
        monkeypatch.setenv("WAREHOUSE_URL", f"postgresql://postgres:pw@127.0.0.1:{port}/journey")
        monkeypatch.setenv("WAREHOUSE_CONNECT_TIMEOUT", "2")
        settings = WarehouseSettings.from_env()
        assert settings.parts("admin")["connect_timeout"] == 2  # dlt credentials, Metabase
        assert dbt_env(settings, "admin")["DBT_PG_CONNECT_TIMEOUT"] == "2"  # profiles.yml
        t0 = time.monotonic()
        with pytest.raises(WarehouseError, match=rf"127\.0\.0\.1:{port}.*within 2 s.*WAREHOUSE_URL"):
            connect("admin", settings)
        with pytest.raises(psycopg.errors.ConnectionTimeout):  # a plain psycopg.connect(role_url) too
            psycopg.connect(settings.role_url("admin"))
        assert time.monotonic() - t0 < 10


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Path:
    """A stopped, valid data dir to damage copies of."""
    settings = WarehouseSettings(port=free_port(), data_dir=tmp_path_factory.mktemp("damage") / "pg")
    server = EmbeddedPostgres(settings)
    server.up()
    server.down()
    return settings.data_dir


def _damaged_copy(cluster: Path, tmp_path: Path) -> WarehouseSettings:
    target = tmp_path / "pg"
    subprocess.run(["cp", "-a", str(cluster), str(target)], check=True)
    shutil.copytree(Path(f"{cluster}-secrets"), Path(f"{target}-secrets"))
    return WarehouseSettings(port=free_port(), data_dir=target)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: (d / "PG_VERSION").unlink(), id="no-PG_VERSION"),
        pytest.param(lambda d: (d / "global/pg_control").write_bytes(b"\0" * 100), id="truncated-pg_control"),
        pytest.param(
            lambda d: (d / "postgresql.conf").write_text("shared_buffers = = '\n"), id="garbled-conf"
        ),
        pytest.param(lambda d: shutil.rmtree(d / "base" / "5"), id="database-files-gone"),
    ],
)
def test_damaged_data_dir_is_named_with_a_fix(cluster: Path, tmp_path: Path, damage):
    settings = _damaged_copy(cluster, tmp_path)
    damage(settings.data_dir)
    server = EmbeddedPostgres(settings)
    with pytest.raises(WarehouseError) as info:
        server.up()
    message = str(info.value)
    assert f"the warehouse data directory {settings.data_dir} is damaged" in message
    assert f"mv {settings.data_dir} {settings.data_dir}.broken && journey warehouse up" in message
    assert not server.status().running  # nothing left behind holding the port


def test_a_directory_that_is_not_a_cluster_is_left_alone(tmp_path: Path):
    data_dir = tmp_path / "not-pg"
    data_dir.mkdir(mode=0o755)
    (data_dir / "notes.txt").write_text("mine")
    with pytest.raises(WarehouseError, match="holds files but no PG_VERSION"):
        EmbeddedPostgres(WarehouseSettings(port=free_port(), data_dir=data_dir)).up()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755 and data_dir.owner() == Path(tmp_path).owner()
