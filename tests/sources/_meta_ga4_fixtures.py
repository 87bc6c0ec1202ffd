"""Helpers shared by the Meta and GA4 source tests: emulators on the tiny world, a clean raw schema per
test, table snapshots, and the numbers the vendor would report (computed from the world's parquet).

Imported explicitly by `test_meta_*.py` / `test_ga4_*.py` (no conftest, so the Shopify tests that share
`tests/sources/` are untouched).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from psycopg import sql

from ingestion.sandbox.emulators import running_emulator
from ingestion.sandbox.emulators.faults import FaultInjector
from ingestion.warehouse import WarehouseSettings, connect, init_warehouse
from ingestion.warehouse.paths import local_dir

FAST_HTTP = {"backoff": 0.01, "max_wait": 0.2, "timeout": 5.0, "max_attempts": 6}
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def emulator(name: str, world_dir: Path) -> Iterator[tuple[str, dict[str, str], FaultInjector]]:
    """(base url, connector env, fault injector) of one running emulator."""
    with running_emulator(name, world_dir) as (server, env, faults):
        yield server.url, env, faults


def control(base_url: str, **settings: Any) -> dict[str, Any]:
    """Turn an emulator's sandbox knobs (as_of date, throttling) over HTTP."""
    resp = requests.post(f"{base_url}/_emulator/control", json=settings, timeout=10)
    resp.raise_for_status()
    return resp.json()


def reset_dataset(settings: WarehouseSettings, dataset: str, pipeline_name: str) -> None:
    """Drop the raw schema (and dlt's staging schema) plus the pipeline's local state: a first run."""
    with connect("admin", settings, autocommit=True) as conn:
        for schema in (dataset, f"{dataset}_staging"):
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    init_warehouse(settings)
    shutil.rmtree(local_dir() / "dlt" / pipeline_name, ignore_errors=True)


def table_rows(schema: str, table: str, key: tuple[str, ...]) -> list[tuple]:
    """Every row without dlt's bookkeeping columns, ordered by key (for exact comparisons)."""
    with connect("admin") as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
                "and column_name not like '\\_dlt%%' order by column_name",
                (schema, table),
            )
        ]
        query = sql.SQL("select {} from {}.{} order by {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in cols),
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.SQL(", ").join(sql.Identifier(k) for k in key),
        )
        return [tuple(cols)] + [tuple(_plain(v) for v in row) for row in conn.execute(query)]


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def columns(schema: str, table: str) -> set[str]:
    with connect("admin") as conn:
        return {
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
                (schema, table),
            )
        }


def duplicate_keys(schema: str, table: str, key: tuple[str, ...]) -> int:
    with connect("admin") as conn:
        query = sql.SQL(
            "select count(*) from (select 1 from {}.{} group by {} having count(*) > 1) d"
        ).format(
            sql.Identifier(schema), sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(k) for k in key)
        )
        return conn.execute(query).fetchone()[0]


def query(sql_text: str, params: tuple = ()) -> list[tuple]:
    with connect("admin") as conn:
        return conn.execute(sql_text, params).fetchall()


def run_killed_midway(
    code: str, env: dict[str, str], ready: Callable[[], bool], timeout: float = 60.0
) -> None:
    """Run `code` in a child Python, SIGKILL it as soon as `ready()` says it is mid-load."""
    child_env = {**os.environ, **env}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=child_env)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(f"the load finished (rc={proc.returncode}) before it could be killed")
            if time.monotonic() > deadline:
                raise AssertionError("the load never reached the point where it should be killed")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)
