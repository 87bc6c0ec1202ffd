"""Events ingestion benchmark: landing files -> Postgres with the loader vs a plain COPY of the same rows.

`run(rows)` writes `rows` synthetic landing-format events, starts a throwaway embedded Postgres, and
measures on the same machine in the same run:
- `events_ingest_rows_per_s`: `load_landing_files` (validate, flatten, dedupe, bookkeeping);
- `copy_baseline_rows_per_s`: a plain `COPY` of the loader's output rows (same columns, pre-made file)
  into a scratch table shaped like `events.events` (primary key included);
- `events_dlt_arrow_rows_per_s`: a dlt pipeline with Arrow tables on a sample (the alternative design).
Results are printed and merged into `.local/bench/results.json`.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import psycopg

from ingestion.events.load import load_landing_files
from ingestion.events.load.dlt_path import run_dlt_pipeline
from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, init_warehouse
from ingestion.warehouse.paths import local_dir
from tests.events.factory import write_landing

DLT_SAMPLE_ROWS = 100_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_baseline(settings: WarehouseSettings, work: Path) -> float:
    """Seconds for a plain COPY of the loaded rows (file made beforehand) into a twin of events.events."""
    dump = work / "events.copy"
    with psycopg.connect(settings.role_url("admin"), autocommit=True) as conn:
        conn.execute("create table events.copy_baseline (like events.events including all)")
        with dump.open("wb") as fh, conn.cursor().copy("copy events.events to stdout") as copy:
            for chunk in copy:
                fh.write(chunk)
        conn.execute("checkpoint")
        t0 = time.perf_counter()
        with dump.open("rb") as fh, conn.cursor().copy("copy events.copy_baseline from stdin") as copy:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        return time.perf_counter() - t0


def run(rows: int = 1_000_000) -> dict:
    """Run the benchmark on `rows` events; returns the figures (also merged into results.json)."""
    work = Path(tempfile.mkdtemp(prefix="events-bench-", dir=local_dir() if local_dir().exists() else None))
    settings = WarehouseSettings(port=_free_port(), data_dir=work / "pg")
    server = EmbeddedPostgres(settings)
    try:
        landing = work / "landing"
        t0 = time.perf_counter()
        size = write_landing(landing, rows)
        print(f"events bench: wrote {rows:,} events ({size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s")
        server.up()
        init_warehouse(settings)
        with psycopg.connect(settings.role_url("admin"), autocommit=True) as conn:
            conn.execute("checkpoint")
        result = load_landing_files(landing, settings)
        assert result.rows_loaded == rows and result.rows_rejected == 0, result
        loader_rate = rows / result.seconds
        copy_seconds = _copy_baseline(settings, work)
        copy_rate = rows / copy_seconds

        sample = work / "sample"
        write_landing(sample, min(rows, DLT_SAMPLE_ROWS), per_file=25_000, seed=11)
        t0 = time.perf_counter()
        dlt_rows = run_dlt_pipeline(sample, settings, "events_dlt_bench", work / "dlt")
        dlt_rate = dlt_rows / (time.perf_counter() - t0)
    finally:
        server.down()
        shutil.rmtree(work, ignore_errors=True)
    figures = {
        "events_ingest_rows": rows,
        "events_ingest_seconds": round(result.seconds, 2),
        "events_ingest_rows_per_s": round(loader_rate),
        "copy_baseline_seconds": round(copy_seconds, 2),
        "copy_baseline_rows_per_s": round(copy_rate),
        "events_ingest_vs_copy_ratio": round(loader_rate / copy_rate, 3),
        "events_dlt_arrow_rows": dlt_rows,
        "events_dlt_arrow_rows_per_s": round(dlt_rate),
    }
    print(
        f"events ingest: {loader_rate:,.0f} rows/s | plain COPY: {copy_rate:,.0f} rows/s | "
        f"ratio {loader_rate / copy_rate:.2f} | dlt Arrow ({dlt_rows:,} rows): {dlt_rate:,.0f} rows/s"
    )
    out = local_dir() / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(out.read_text()) if out.exists() else {}
    merged.update(figures)
    out.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return figures


if __name__ == "__main__":
    import sys

    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
