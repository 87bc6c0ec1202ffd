"""Fixtures for the dashboards tests: a fake Metabase over real HTTP, and the YAML definitions."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from dashboards.model import Dashboard, load_dashboards
from dashboards.provision import DatabaseSpec
from ingestion.sandbox.emulators.server import BackgroundServer
from ingestion.warehouse import WarehouseSettings, init_warehouse
from tests.dashboards.fake_metabase import FakeMetabase


@pytest.fixture
def fake_metabase() -> Iterator[tuple[FakeMetabase, str]]:
    """A fresh in-memory Metabase per test, served by uvicorn on a free local port."""
    state = FakeMetabase()
    with BackgroundServer(state.app()) as server:
        yield state, server.url


@pytest.fixture(scope="session")
def definitions() -> list[Dashboard]:
    return load_dashboards()


@pytest.fixture
def db_spec() -> DatabaseSpec:
    return DatabaseSpec(host="host.docker.internal", port=55432, dbname="journey", user="reporter")


DASHBOARD_DATABASE = "journey_dashboards_tests"


@pytest.fixture(scope="session")
def dashboard_warehouse(
    warehouse: WarehouseSettings, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> WarehouseSettings:
    """The tiny shop built end to end in a database of its own on the session warehouse server.

    Raw tables by the project's loaders (tests/dbt/raw_loaders.py: events COPY loader, Meta and GA4 dlt
    pipelines against their emulators, Shopify from the world until its connector lands), then
    `journey dbt build` as the transformer role, then the ML and insights tables. Cards are run against
    it as the `reporter` role, exactly as Metabase would.
    """
    from tests.dbt.raw_loaders import load_raw

    settings = dataclasses.replace(warehouse, database=DASHBOARD_DATABASE)
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {DASHBOARD_DATABASE} with (force)")
        conn.execute(f"create database {DASHBOARD_DATABASE}")
    init_warehouse(settings)
    load_raw(tiny_world, settings)
    _journey_dbt_build(settings, tmp_path_factory.mktemp("dashboards_dbt"))
    with _dagster_home(tmp_path_factory.mktemp("dashboards_dagster_home")):
        build_python_tables(settings, tiny_world)
    return settings


@contextmanager
def _dagster_home(path: Path) -> Iterator[None]:
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved


def _journey_dbt_build(settings: WarehouseSettings, work: Path) -> None:
    """`journey dbt build` (models and seeds; the dbt tier runs the tests) pointed at `settings`."""
    env = {
        **os.environ,
        "WAREHOUSE_URL": settings.role_url("admin"),
        "WAREHOUSE_TRANSFORMER_URL": settings.role_url("transformer"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
    }
    journey = Path(sys.executable).parent / "journey"
    args = ["dbt", "build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    proc = subprocess.run([str(journey), *args], env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise AssertionError(f"journey dbt build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")


PYTHON_JOBS = {"ml": "ml_job", "insights": "insights_job"}


def build_python_tables(settings: WarehouseSettings, world: Path) -> list[str]:
    """`ml.*` and `insights.*`: the Dagster jobs that write them, run with `dagster job execute` in a
    fresh process whose environment points at `settings` (the Definitions bind the warehouse from the
    environment when they load). A job whose asset group has no assets yet is not run, and the cards
    reading its tables then fail with "relation does not exist". Returns the jobs that ran."""
    import json

    from orchestration.definitions import defs
    from orchestration.defs.insights.partitions import nightly_partition_key

    groups = {spec.group_name for spec in defs.resolve_all_asset_specs()}
    jobs = [job for group, job in PYTHON_JOBS.items() if group in groups]
    env = {
        **{k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},  # insights: rule-based, offline
        "WAREHOUSE_URL": settings.role_url("admin"),
        **{
            f"WAREHOUSE_{role.upper()}_URL": settings.role_url(role)
            for role in ("loader", "transformer", "reporter")
        },
        "JOURNEY_SANDBOX_SIZE": "tiny",
        "JOURNEY_AS_OF": json.loads((world / "world.json").read_text())["end_date"],
    }
    # insights_job is daily partitioned: `dagster job execute` has no partition flag, the run's
    # partition is its `dagster/partition` tag (the same night's partition the demo and e2e run use)
    partition = nightly_partition_key(env["JOURNEY_AS_OF"])
    tags = {"insights_job": ["--tags", json.dumps({"dagster/partition": partition})]}
    dagster = Path(sys.executable).parent / "dagster"
    for job in jobs:
        proc = subprocess.run(
            [str(dagster), "job", "execute", "-m", "orchestration.definitions", "-j", job, *tags.get(job, [])],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if proc.returncode != 0:
            raise AssertionError(
                f"dagster job execute {job} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-4000:]}"
            )
    return jobs
