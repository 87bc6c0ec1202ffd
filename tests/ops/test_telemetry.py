"""Telemetry off by configuration: a real dlt load attempts no connection off the machine, dlt's resolved
runtime configuration says so wherever a process starts (the project default in
ingestion/common/pipelines.py, and `.dlt/config.toml` for dlt run bare from the repo root), and dbt's
own flag resolution of dbt_project.yml sends no usage stats."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dlt
import pytest

from ingestion.common.pipelines import load, raw_pipeline
from ingestion.warehouse import WarehouseSettings, connect
from ingestion.warehouse.paths import PROJECT_ROOT

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
PROBE_DATASET = "telemetry_probe"
# what a process reports about dlt's telemetry once it has built a pipeline
REPORT = """
import json
from dlt.common.runtime import anon_tracker, run_context
print(json.dumps({
    "pipeline": pipeline.pipeline_name,
    "telemetry": run_context.active().runtime_config.dlthub_telemetry,
    "tracker_endpoint": anon_tracker._ANON_TRACKER_ENDPOINT,
}))
"""


def _loopback(host: object) -> bool:
    return isinstance(host, str) and (host in LOOPBACK or host.startswith("127."))


@contextmanager
def outbound_guard() -> Iterator[list[str]]:
    """Record (and refuse) every Python-level name lookup or connect() to a non-loopback address.
    dlt's tracker posts with `requests`, which resolves and connects through these two calls."""
    attempts: list[str] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            attempts.append(f"lookup {host}")
            raise OSError(f"outbound lookup of {host} refused by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect_(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(host):
            attempts.append(f"connect {address}")
            raise OSError(f"outbound connect to {address} refused by the test")
        return real_connect(self, address)

    socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect_
    try:
        yield attempts
    finally:
        socket.getaddrinfo, socket.socket.connect = real_getaddrinfo, real_connect


def _drop_probe(warehouse: WarehouseSettings) -> None:
    with connect("admin", warehouse, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {PROBE_DATASET} cascade")
        conn.execute(f"drop schema if exists {PROBE_DATASET}_staging cascade")


def test_a_dlt_load_makes_no_outbound_connection(warehouse: WarehouseSettings):
    from dlt.common.runtime import anon_tracker, run_context

    _drop_probe(warehouse)

    @dlt.resource(name="probe", write_disposition="merge", primary_key="id")
    def probe():
        yield [{"id": 1, "note": "telemetry probe"}, {"id": 2, "note": "second row"}]

    try:
        with outbound_guard() as attempts:
            # the guard works: an address off the machine is seen and refused
            with pytest.raises(OSError):
                socket.create_connection(("192.0.2.1", 9), timeout=1)
            assert len(attempts) == 1 and "192.0.2.1" in attempts[0]
            attempts.clear()
            pipeline = raw_pipeline(PROBE_DATASET, "test_telemetry_probe", warehouse, progress=None)
            load(pipeline, probe())
            load(pipeline, probe())  # a second run: merge, state sync from the destination
            if anon_tracker._THREAD_POOL is not None:  # telemetry on: let queued events try to leave
                anon_tracker._THREAD_POOL.stop(True)
        assert attempts == []
        assert run_context.active().runtime_config.dlthub_telemetry is False
        assert anon_tracker._ANON_TRACKER_ENDPOINT is None  # the tracker was never started
        with connect("admin", warehouse) as conn:
            assert conn.execute(f"select count(*) from {PROBE_DATASET}.probe").fetchone()[0] == 2
    finally:
        _drop_probe(warehouse)


def _fresh_process(code: str, cwd: Path, local: Path) -> dict:
    """Run `code` in a new interpreter with no telemetry setting inherited from this one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNTIME__")}
    env["JOURNEY_LOCAL_DIR"] = str(local)
    proc = subprocess.run(
        [sys.executable, "-c", code + REPORT], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_project_pipeline_has_telemetry_off_from_any_directory(warehouse, tmp_path):
    """What a Dagster run worker or the CLI does: import a source package and build its pipeline,
    here from a directory without `.dlt/`, so only the project's own default can turn telemetry off."""
    code = (
        "from ingestion.order_history import order_history_pipeline\n"
        "pipeline = order_history_pipeline(pipeline_name='telemetry_probe_cwd')\n"
    )
    assert not (tmp_path / ".dlt").exists()
    report = _fresh_process(code, tmp_path, tmp_path / "local")
    assert report == {"pipeline": "telemetry_probe_cwd", "telemetry": False, "tracker_endpoint": None}


def test_bare_dlt_from_the_repo_root_reads_telemetry_off(tmp_path):
    """dlt used without the project's modules (the events benchmark's plain dlt path, a notebook)
    picks up the repo's `.dlt/config.toml`."""
    code = (
        "import dlt\n"
        f"pipeline = dlt.pipeline(pipeline_name='telemetry_probe_bare', pipelines_dir={str(tmp_path)!r})\n"
    )
    report = _fresh_process(code, PROJECT_ROOT, tmp_path / "local")
    assert report == {"pipeline": "telemetry_probe_bare", "telemetry": False, "tracker_endpoint": None}


def test_dbt_resolves_no_usage_stats_from_the_project(monkeypatch):
    """dbt's own flag resolution (the one `dbt build` runs in preflight), with no environment override:
    `flags: send_anonymous_usage_stats: false` in dbt_project.yml is what turns tracking off."""
    from dbt.cli.flags import Flags, args_to_context

    monkeypatch.delenv("DBT_SEND_ANONYMOUS_USAGE_STATS", raising=False)
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    project = str(PROJECT_ROOT / "dbt_project")
    flags = Flags(args_to_context(["build", "--project-dir", project, "--profiles-dir", project]))
    assert flags.SEND_ANONYMOUS_USAGE_STATS is False
