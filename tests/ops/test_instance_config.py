"""The Dagster instance configs shipped with the project are valid for the pinned Dagster: the local
one (what `make install` copies to .dagster_home) starts an instance; the production one validates."""

from __future__ import annotations

import shutil

import dagster as dg
from dagster._core.instance.config import dagster_instance_config

from ingestion.warehouse.paths import PROJECT_ROOT


def test_local_instance_starts_with_its_concurrency_limits(tmp_path):
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.local.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_coordinator is not None


def test_production_instance_config_validates(tmp_path):
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_db"]["hostname"] == {"env": "DAGSTER_PG_HOST"}
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 4
    assert config["run_retries"]["enabled"] is True
