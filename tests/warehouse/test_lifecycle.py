"""The embedded warehouse: up/down lifecycle, persistence, idempotence, overrides and clear errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ingestion.warehouse import EmbeddedPostgres, WarehouseError, WarehouseSettings, init_warehouse
from tests.conftest import free_port


@pytest.fixture()
def private_server(tmp_path: Path):
    settings = WarehouseSettings(port=free_port(), data_dir=tmp_path / "pg")
    server = EmbeddedPostgres(settings)
    yield settings, server
    server.down()


def test_up_is_idempotent_and_data_survives_down_up(private_server):
    settings, server = private_server
    first = server.up()
    assert first.running and first.message == "started"
    assert server.up().message.startswith("already running")
    with psycopg.connect(settings.role_url(), autocommit=True) as conn:
        conn.execute("create table keepme (id int)")
        conn.execute("insert into keepme values (1), (2)")
    assert server.down().message == "stopped"
    assert not server.status().running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(settings.role_url(), connect_timeout=2)
    server.up()
    with psycopg.connect(settings.role_url()) as conn:
        assert conn.execute("select count(*) from keepme").fetchone()[0] == 2


def test_port_in_use_gives_clear_message(tmp_path: Path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        server = EmbeddedPostgres(WarehouseSettings(port=port, data_dir=tmp_path / "pg"))
        with pytest.raises(
            WarehouseError, match=rf"port {port} on 127.0.0.1 is already in use.*WAREHOUSE_PORT"
        ):
            server.up()


def test_stale_pid_file_is_cleared(private_server, capsys):
    settings, server = private_server
    server.up()
    server.down()
    # a crash leaves postmaster.pid behind with a pid that is no longer postgres
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (settings.data_dir / "postmaster.pid").write_text(
        f"{dead.pid}\n{settings.data_dir}\n0\n{settings.port}\n"
    )
    assert server.up().running
    assert "removed stale pid file" in capsys.readouterr().out


def test_warehouse_url_overrides_embedded(warehouse: WarehouseSettings, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", warehouse.role_url("admin"))
    settings = WarehouseSettings.from_env()
    assert not settings.embedded
    with pytest.raises(WarehouseError, match="WAREHOUSE_URL is set"):
        EmbeddedPostgres(settings)
    with psycopg.connect(settings.role_url("admin")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_cli_url_and_status(warehouse: WarehouseSettings):
    def cli(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "orchestration.cli", "warehouse", *args]
        return subprocess.run(cmd, capture_output=True, text=True)

    admin_password = warehouse.role_password("admin")
    masked = cli("url").stdout.strip()
    assert masked == warehouse.redacted("admin") and ":***@" in masked and admin_password not in masked
    # --role R prints R's own URL; with --show-password R's password and never another role's
    shown = cli("url", "--role", "reporter", "--show-password").stdout.strip()
    assert shown == warehouse.role_url("reporter") and warehouse.role_password("reporter") in shown
    assert admin_password not in shown
    status = cli("status")
    assert status.returncode == 0 and f"port {warehouse.port}" in status.stdout
    assert admin_password not in status.stdout


def test_contract_is_idempotent_and_reporter_is_read_only(warehouse: WarehouseSettings):
    init_warehouse(warehouse)  # second time: no error
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        assert {
            "shopify",
            "meta_ads",
            "google_ads",
            "ga4",
            "events",
            "staging",
            "intermediate",
            "marts",
            "ml",
            "insights",
        } <= schemas
    with psycopg.connect(warehouse.role_url("loader"), autocommit=True) as conn:
        conn.execute("create table if not exists shopify.lifecycle_probe (id int)")
    with psycopg.connect(warehouse.role_url("transformer"), autocommit=True) as conn:
        conn.execute("create table if not exists marts.lifecycle_probe (id int)")
        conn.execute("select * from shopify.lifecycle_probe")
    with psycopg.connect(warehouse.role_url("reporter"), autocommit=True) as conn:
        conn.execute("select * from marts.lifecycle_probe")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from shopify.lifecycle_probe")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table marts.nope (id int)")
