"""Tier 2/4: the Meta and GA4 `@dlt_assets` materialize against the emulators without a partition key (as
`ingest_job`/`nightly_job` run them), report row counts, and a run-config backfill reloads only its range.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs

import dagster as dg
import pytest
from dagster_dlt import DagsterDltResource

from ingestion.meta_ads.pipeline import PIPELINE_NAME as META_PIPELINE
from orchestration.defs.ga4.assets import ga4_assets
from orchestration.defs.ga4.checks import report_complete
from orchestration.defs.ga4.resources import GA4Api
from orchestration.defs.meta_ads.assets import meta_ads_assets
from orchestration.defs.meta_ads.resources import MetaAdsApi
from orchestration.defs.shared.resources import Warehouse
from tests.sources._meta_ga4_fixtures import control, duplicate_keys, emulator, query, reset_dataset

FAST_ENV = {
    "META_POLL_SECONDS": "0.01",
    "META_BACKOFF_SECONDS": "0.01",
    "META_MAX_WAIT_SECONDS": "0.2",
    "GA4_BACKOFF_SECONDS": "0.01",
    "GA4_MAX_WAIT_SECONDS": "0.2",
}


@pytest.fixture(scope="module")
def sources(tiny_world: Path, warehouse) -> Iterator[dict]:
    with ExitStack() as stack:
        meta_url, meta_env, meta_faults = stack.enter_context(emulator("meta", tiny_world))
        ga4_url, ga4_env, ga4_faults = stack.enter_context(emulator("ga4", tiny_world))
        env = {**meta_env, **ga4_env, **FAST_ENV}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        reset_dataset(warehouse, "meta_ads", META_PIPELINE)
        reset_dataset(warehouse, "ga4", "ga4")
        try:
            yield {"env": env, "meta_faults": meta_faults, "ga4_faults": ga4_faults, "warehouse": warehouse,
                   "ga4_url": ga4_url}  # fmt: skip
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            reset_dataset(warehouse, "meta_ads", META_PIPELINE)
            reset_dataset(warehouse, "ga4", "ga4")


def _resources(sources: dict) -> dict:
    env = sources["env"]
    return {
        "warehouse": Warehouse(port=sources["warehouse"].port),
        "meta_ads_dlt": DagsterDltResource(),
        "ga4_dlt": DagsterDltResource(),
        "meta_ads_api": MetaAdsApi(
            api_url=env["META_API_URL"],
            access_token=env["META_ACCESS_TOKEN"],
            ad_account_id=env["META_AD_ACCOUNT_ID"],
        ),
        "ga4_api": GA4Api(
            api_url=env["GA4_API_URL"],
            property_id=env["GA4_PROPERTY_ID"],
            credentials_file=env["GA4_CREDENTIALS_FILE"],
        ),
    }


def _row_counts(result: dg.ExecuteInJobResult) -> dict[tuple[str, ...], int]:
    return {
        tuple(m.asset_key.path): m.metadata["dagster/row_count"].value
        for m in result.asset_materializations_for_node("meta_ads")
        + result.asset_materializations_for_node("ga4")
    }


def test_assets_materialize_twice_without_partition_and_report_rows(sources):
    first = dg.materialize([meta_ads_assets, ga4_assets], resources=_resources(sources))
    assert first.success
    counts = _row_counts(first)
    assert set(counts) == {
        ("meta_ads", "campaigns"),
        ("meta_ads", "adsets"),
        ("meta_ads", "ads"),
        ("meta_ads", "ads_insights"),
        ("ga4", "daily_traffic"),
        ("ga4", "report_metadata"),
    }
    assert all(n > 0 for n in counts.values()), counts
    assert counts[("meta_ads", "ads_insights")] == query("select count(*) from meta_ads.ads_insights")[0][0]

    second = dg.materialize([meta_ads_assets, ga4_assets], resources=_resources(sources))
    assert second.success
    again = _row_counts(second)
    # ga4.report_metadata is a log: one row per report request of each load
    report_requests = [r for r in sources["ga4_faults"].requests if r.path.endswith(":runReport")]
    assert again.pop(("ga4", "report_metadata")) == len(report_requests)
    assert again == {k: v for k, v in counts.items() if k != ("ga4", "report_metadata")}
    assert duplicate_keys("meta_ads", "ads_insights", ("ad_id", "date_start")) == 0


def test_backfill_range_from_run_config(sources):
    dg.materialize([meta_ads_assets], resources=_resources(sources))  # make sure a cursor exists
    before = query("select count(*) from meta_ads.ads_insights")[0][0]
    last = query("select max(date_start) from meta_ads.ads_insights")[0][0]
    sources["meta_faults"].clear()
    result = dg.materialize(
        [meta_ads_assets],
        resources=_resources(sources),
        run_config={"ops": {"meta_ads": {"config": {"since": "2025-01-01", "until": "2025-01-10"}}}},
    )
    assert result.success
    posts = [
        json.loads(parse_qs(r.body.decode())["time_range"][0])
        for r in sources["meta_faults"].requests
        if r.method == "POST" and r.path.endswith("/insights")
    ]
    assert posts == [{"since": "2025-01-01", "until": "2025-01-10"}]
    assert query("select count(*) from meta_ads.ads_insights")[0][0] == before
    assert query("select max(date_start) from meta_ads.ads_insights")[0][0] == last


def test_ga4_thresholded_report_warns_in_metadata_and_fails_the_warn_check(sources):
    """GA4 flags in the response metadata: a notice on the materialization and `report_complete` (WARN,
    non-blocking) failing until a load comes back whole."""
    control(sources["ga4_url"], thresholding=3)
    try:
        result = dg.materialize([ga4_assets, report_complete], resources=_resources(sources))
    finally:
        control(sources["ga4_url"], thresholding=None)
    assert result.success  # a WARN check does not fail the run
    (traffic,) = [
        m for m in result.asset_materializations_for_node("ga4") if m.asset_key.path[-1] == "daily_traffic"
    ]
    assert traffic.metadata["notice_count"].value >= 1
    assert "report_thresholded" in traffic.metadata["notices"].value
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "report_complete" and not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "thresholded" in evaluation.description and evaluation.metadata["subject_to_thresholding"].value

    whole = dg.materialize([ga4_assets, report_complete], resources=_resources(sources))
    (evaluation,) = whole.get_asset_check_evaluations()
    assert evaluation.passed, evaluation.description
    (traffic,) = [
        m for m in whole.asset_materializations_for_node("ga4") if m.asset_key.path[-1] == "daily_traffic"
    ]
    assert traffic.metadata["notice_count"].value == 0

    # daily_traffic alone (an asset subset) leaves no report metadata for its load: the check says so
    subset = dg.materialize(
        [ga4_assets, report_complete],
        resources=_resources(sources),
        selection=[dg.AssetKey(["ga4", "daily_traffic"])],
    )
    (evaluation,) = subset.get_asset_check_evaluations()
    assert not evaluation.passed and "recorded no report metadata" in evaluation.description
