"""Materialization freshness is Dagster's `FreshnessPolicy` on every raw asset and mart, evaluated by the
instance's freshness daemon (no superseded last-update checks, no sensor); the data-freshness checks on
each source's newest record stay (orchestration/defs/ops/freshness.py)."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
from dagster._core.instance.config import dagster_instance_config

from ingestion.warehouse.paths import PROJECT_ROOT
from orchestration.definitions import defs
from orchestration.defs.ops.freshness import MART_FRESHNESS, RAW_FRESHNESS, SOURCE_FRESHNESS
from orchestration.defs.ops.jobs import INGEST_GROUPS


@pytest.fixture(scope="module")
def repo():
    return defs.get_repository_def()


def _nodes(repo, groups):
    graph = repo.asset_graph
    return [graph.get(key) for key in graph.get_all_asset_keys() if graph.get(key).group_name in groups]


def test_every_raw_asset_and_mart_has_a_freshness_policy(repo):
    raw = [node for node in _nodes(repo, INGEST_GROUPS) if node.is_materializable]
    marts = _nodes(repo, ("marts",))
    assert len(raw) >= 13 and len(marts) >= 10
    assert {node.key.to_user_string(): node.freshness_policy for node in raw} == {
        node.key.to_user_string(): RAW_FRESHNESS for node in raw
    }
    assert {node.key.to_user_string(): node.freshness_policy for node in marts} == {
        node.key.to_user_string(): MART_FRESHNESS for node in marts
    }
    assert RAW_FRESHNESS.fail_window.to_timedelta().total_seconds() == 26 * 3600


def test_no_superseded_freshness_checks_or_sensor(repo):
    """The data-freshness checks stay (one per source); the last-update checks and their sensor are gone."""
    checks = repo.asset_graph.asset_check_keys
    assert {c for c in checks if c.name == "data_freshness"} == {
        dg.AssetCheckKey(dg.AssetKey(key), "data_freshness") for key, *_ in SOURCE_FRESHNESS
    }
    assert [c for c in checks if "freshness" in c.name and c.name != "data_freshness"] == []
    assert [s.name for s in repo.sensor_defs if "freshness" in s.name] == []


def test_the_local_instance_runs_the_freshness_daemon(tmp_path):
    """`dg dev` starts the daemons the instance requires; FRESHNESS_DAEMON evaluates the policies."""
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.local.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.freshness_enabled
        assert "FRESHNESS_DAEMON" in instance.get_required_daemon_types()


def test_the_production_instance_does_not_turn_freshness_off(tmp_path):
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert (config.get("freshness") or {}).get("enabled", True) is True
