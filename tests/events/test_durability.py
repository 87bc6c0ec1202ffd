"""Nothing lost: the collector keeps answering while the warehouse is down; a killed load re-runs cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import orjson

from ingestion.events.collector import CollectorConfig, running_collector
from ingestion.events.load import load_landing_files
from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, init_warehouse
from tests.conftest import free_port
from tests.events.conftest import rows
from tests.events.factory import make_event, write_jsonl
from tests.events.test_collector import fresh_event


def test_collector_accepts_while_warehouse_is_down(tmp_path: Path, local_dir: Path) -> None:
    settings = WarehouseSettings(port=free_port(), data_dir=tmp_path / "pg")
    server = EmbeddedPostgres(settings)
    server.up()
    try:
        init_warehouse(settings)
        server.down()
        assert not server.status().running
        landing = tmp_path / "landing"
        with running_collector(CollectorConfig(landing_dir=landing)) as url:
            for n in range(5):
                batch = [fresh_event(n * 10 + k) for k in range(10)]
                r = httpx.post(f"{url}/v1/batch", content=orjson.dumps({"batch": batch}))
                assert r.status_code == 200, r.text
        server.up()
        result = load_landing_files(landing, settings)
        assert result.rows_loaded == 50 and result.rows_rejected == 0
        got = {r[0] for r in rows(settings, "select message_id from events.events")}
        assert got == {fresh_event(i)["messageId"] for i in range(50)}
    finally:
        server.down()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from ingestion.events.load import loader
    from ingestion.warehouse import WarehouseSettings

    real = loader._record_files
    calls = {"n": 0}

    def record_then_die(cur, schema, outcomes, load_id):
        calls["n"] += 1
        real(cur, schema, outcomes, load_id)
        if calls["n"] == 2:  # second batch: rows inserted, bookkeeping written, commit not yet sent
            os.kill(os.getpid(), signal.SIGKILL)

    loader._record_files = record_then_die
    loader.load_landing_files(Path(sys.argv[1]), WarehouseSettings.from_env(), schema=sys.argv[2],
                              workers=1, batch_bytes=1)
    """
)


def _state(settings: WarehouseSettings, schema: str) -> tuple:
    return (
        rows(settings, f"select message_id, landing_file from {schema}.events order by 1"),
        rows(settings, f"select landing_file, line_number, reason from {schema}.rejected order by 1, 2"),
        rows(
            settings,
            f"select landing_file, rows_loaded, rows_rejected, rows_duplicate from {schema}.loaded_files order by 1",
        ),
    )


def test_killed_load_then_rerun_equals_clean_run(
    tmp_path: Path, warehouse: WarehouseSettings, events_schema: str
) -> None:
    landing = tmp_path / "landing"
    for f in range(4):
        lines: list = [make_event(f * 100 + i) for i in range(100)]
        lines += [make_event(max(f * 100 - 1, 0)), b"{not json"]  # a duplicate and a bad line
        write_jsonl(landing / f"dt=2025-01-0{f + 1}" / f"f{f}.jsonl", lines)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(landing), events_schema], env=env, capture_output=True, text=True
    )
    assert proc.returncode == -9, proc.stderr
    events, rejected, files = _state(warehouse, events_schema)
    assert [f[0] for f in files] == ["dt=2025-01-01/f0.jsonl"]  # only the first batch committed
    assert len(events) == 100

    result = load_landing_files(landing, warehouse, schema=events_schema)
    assert result.files == 3 and result.files_skipped == 1

    clean = events_schema + "_clean"
    try:
        load_landing_files(landing, warehouse, schema=clean)
        assert _state(warehouse, events_schema) == _state(warehouse, clean)
    finally:
        with __import__("psycopg").connect(warehouse.role_url("admin"), autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{clean}" cascade')
