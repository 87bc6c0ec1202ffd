"""Tier 3 fixtures: the tiny shop loaded into a private database of the session warehouse by the real
loaders, and a `dbt` runner pointed at it.

A database of its own (`journey_dbt_tests`) keeps these tests' raw-table surgery (the incremental test
holds rows back and releases them day by day) away from the e2e tier, which loads the same tiny shop
into the default database.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from ingestion.warehouse import WarehouseSettings, init_warehouse
from ingestion.warehouse.paths import PROJECT_ROOT
from ingestion.warehouse.settings import dbt_env

DBT_DATABASE = "journey_dbt_tests"
DBT_PROJECT = PROJECT_ROOT / "dbt_project"


@pytest.fixture(scope="session")
def dbt_warehouse(warehouse: WarehouseSettings) -> WarehouseSettings:
    """The session warehouse's server, with a fresh database holding the contract's schemas and roles."""
    settings = dataclasses.replace(warehouse, database=DBT_DATABASE)
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {DBT_DATABASE} with (force)")
        conn.execute(f"create database {DBT_DATABASE}")
    init_warehouse(settings)
    return settings


@pytest.fixture(scope="session")
def raw_tiny(dbt_warehouse: WarehouseSettings, tiny_world: Path) -> WarehouseSettings:
    """The tiny shop in the raw schemas, each source landed by its own loader."""
    from tests.dbt.raw_loaders import load_raw

    load_raw(tiny_world, dbt_warehouse)
    return dbt_warehouse


@pytest.fixture(scope="session")
def run_dbt(
    dbt_warehouse: WarehouseSettings, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., subprocess.CompletedProcess]:
    """`run_dbt("build", "--full-refresh")`: dbt as the transformer role on the private database.

    Artifacts and logs go to a temporary directory so the project's own target/ (Dagster's manifest)
    is left alone. Raises with dbt's output when dbt fails.
    """
    work = tmp_path_factory.mktemp("dbt")
    env = {
        **os.environ,
        **dbt_env(dbt_warehouse),
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = Path(sys.executable).parent / "dbt"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(dbt), *args], cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=600
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"dbt {' '.join(args)} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-2000:]}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def built_tiny(raw_tiny: WarehouseSettings, run_dbt) -> Iterator[subprocess.CompletedProcess]:
    """One full `dbt build` (models, seeds, schema + unit + data tests) of the tiny shop."""
    yield run_dbt("build", "--full-refresh")
