"""Nothing lost: the collector keeps answering while the warehouse is down, never acknowledges what a
full disk did not take, cuts torn tails at start; a killed load re-runs cleanly."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import orjson

from ingestion.events.collector import CollectorConfig, create_app, running_collector
from ingestion.events.collector.server import running_app
from ingestion.events.landing import closed_landing_files
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


class FillingDisk:
    """The file layer of a disk with `free` bytes left, as write(2) behaves on a full file system: a
    write takes what still fits (a short write, mid-line), the next one fails with ENOSPC. No root is
    needed, unlike a size-limited tmpfs; the collector's own code does everything else for real."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.short_writes = 0

    def write(self, fd: int, data: bytes) -> int:
        if self.free <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = os.write(fd, data[: self.free])
        self.short_writes += written < len(data)
        self.free -= written
        return written


def test_disk_full_loses_no_acknowledged_event(
    tmp_path: Path, warehouse: WarehouseSettings, events_schema: str
) -> None:
    landing = tmp_path / "landing"
    disk = FillingDisk(free=7_000)  # about two and a half batches of five events
    batches = [[fresh_event(b * 5 + k) for k in range(5)] for b in range(10)]
    acknowledged: set[str] = set()
    refused: list[list[dict]] = []
    app = create_app(CollectorConfig(landing_dir=landing), file_write=disk.write)
    with running_app(app) as url, httpx.Client(base_url=url) as client:
        for batch in batches[:6]:
            r = client.post("/v1/batch", content=orjson.dumps({"batch": batch}))
            if r.status_code == 200:
                acknowledged |= {e["messageId"] for e in batch}
            else:
                assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, r.text
                refused.append(batch)
        assert acknowledged and len(refused) >= 3 and disk.short_writes == 1  # it filled up mid-line
        disk.free = 10**9  # space freed; the tracker resends what was refused, then goes on
        for batch in refused + batches[6:]:
            r = client.post("/v1/batch", content=orjson.dumps({"batch": batch}))
            assert r.status_code == 200, r.text
            acknowledged |= {e["messageId"] for e in batch}
    result = load_landing_files(landing, warehouse, schema=events_schema)
    # no partial line survived to be completed by a later write, and no line of a refused batch stayed
    assert (result.rows_rejected, result.duplicates_skipped) == (0, 0)
    got = {r[0] for r in rows(warehouse, f"select message_id from {events_schema}.events")}
    assert got == acknowledged == {e["messageId"] for batch in batches for e in batch}


def test_torn_tail_is_cut_when_the_collector_starts(tmp_path: Path) -> None:
    """A collector killed mid-write leaves `.open` files whose last line is partial (never acknowledged):
    the next start keeps the complete lines and publishes the file; a file with no complete line goes."""
    day = tmp_path / "landing" / "dt=2025-01-02"
    day.mkdir(parents=True)
    lines = [orjson.dumps(fresh_event(i)) for i in range(3)]
    torn = b'{"messageId": "never acknowledged", "padding": "' + b"x" * 100_000  # longer than a read chunk
    (day / "collector-a.jsonl.open").write_bytes(b"\n".join(lines) + b"\n" + torn)
    (day / "collector-b.jsonl.open").write_bytes(torn)
    with running_collector(CollectorConfig(landing_dir=tmp_path / "landing")):
        pass
    files = closed_landing_files(tmp_path / "landing")
    assert [p.name for p in files] == ["collector-a.jsonl"]
    assert files[0].read_bytes() == b"\n".join(lines) + b"\n"
    assert not list(day.glob("*.open"))


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
