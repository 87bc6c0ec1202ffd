"""Jobs and schedules, selected by asset group so each domain can grow without touching this file.

`insights_job` and `nightly_job` are partitioned by the insights' daily partitions (run date; Dagster
infers it from the selected assets, and allows one partitions definition beside unpartitioned assets): a
run needs a partition key (`nightly_partition_key()` for in-process runs; the schedule and UI backfills
pick their own). The unpartitioned ingest/dbt/ML assets in `nightly_job` run as usual in such a run.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.defs.insights.partitions import insights_partitions, partition_for_night

INGEST_GROUPS = ("shopify", "order_history", "meta_ads", "google_ads", "ga4", "events")
TRANSFORM_GROUPS = ("seeds", "staging", "intermediate", "marts")
ML_GROUPS = ("ml",)
INSIGHTS_GROUPS = ("insights",)
ACTIVATION_GROUPS = ("activation",)


def dbt_source_checks() -> dg.AssetSelection:
    """The dbt source tests: asset checks on the raw assets, executed by the `dbt build` step (which
    always runs the source tests upstream of what it builds). They belong to transform_job, not to
    ingest_job, which would otherwise start a dbt step just to run them."""
    from orchestration.defs.transform.assets import (  # dbt assets import this package
        journey_dbt_assets,
        segment_dbt_assets,
    )

    dbt = (journey_dbt_assets, segment_dbt_assets)
    models = {key for assets in dbt for key in assets.keys}
    return dg.AssetSelection.checks(
        *(key for assets in dbt for key in assets.check_keys if key.asset_key not in models)
    )


ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups(*INGEST_GROUPS) - dbt_source_checks(),
    description="Load every source into raw schemas (with their quality and freshness checks)",
)
transform_job = dg.define_asset_job(
    "transform_job",
    selection=dg.AssetSelection.groups(*TRANSFORM_GROUPS) | dbt_source_checks(),
    description="dbt build: staging -> marts, with the dbt tests (source tests included) as checks",
)
ml_job = dg.define_asset_job(
    "ml_job", selection=dg.AssetSelection.groups(*ML_GROUPS), description="Retrain and score models"
)
activation_job = dg.define_asset_job(
    "activation_job",
    selection=dg.AssetSelection.groups(*ACTIVATION_GROUPS)
    | dg.AssetSelection.assets(
        ["staging", "stg_activation__segment_evaluations"],
        ["staging", "stg_activation__segment_snapshots"],
        ["marts", "segment_members"],
        ["marts", "fct_segment_sizes_daily"],
    ),
    description="Evaluate the segments, rebuild their marts and sync them (run config dry_run: true plans only)",
)
insights_job = dg.define_asset_job(
    "insights_job",
    selection=dg.AssetSelection.groups(*INSIGHTS_GROUPS),
    description="Write LLM insight tables for one run date (partition); backfill a range from the UI",
)
nightly_job = dg.define_asset_job(
    "nightly_job",
    selection=dg.AssetSelection.groups(
        *INGEST_GROUPS, *TRANSFORM_GROUPS, *ML_GROUPS, *INSIGHTS_GROUPS, *ACTIVATION_GROUPS
    ),
    description=(
        "Ingest -> dbt -> ML -> insights and segments -> segment marts -> syncs, for the partition's run "
        "date, in dependency order"
    ),
    # run monitoring (dagster.yaml) fails a nightly still running after 4 h: a hang must page, not linger
    tags={"dagster/max_runtime": 4 * 3600},
)


@dg.schedule(
    name="nightly_schedule",
    cron_schedule="0 2 * * *",
    execution_timezone=insights_partitions.timezone,
    job=nightly_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 every night in NIGHTLY_TIMEZONE: nightly_job for yesterday's partition",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """The tick at 02:00 on day D runs partition D - 1, the last complete day (`partition_for_night`,
    the same rule as in-process runs). A plain schedule returning `RunRequest(partition_key=...)`:
    `build_schedule_from_partitioned_job` calls the deprecated `JobDefinition.run_request_for_partition`.
    The run key is the partition, so a tick retried after a daemon restart launches no second run."""
    tick = context.scheduled_execution_time.astimezone(ZoneInfo(insights_partitions.timezone))
    key = partition_for_night(tick.date())
    if not insights_partitions.has_partition_key(key):
        first, last = (
            insights_partitions.get_first_partition_key(),
            insights_partitions.get_last_partition_key(),
        )
        return dg.SkipReason(
            f"no insights partition {key}: partitions run from {first} (INSIGHTS_START_DATE) to {last}"
            " (the day before JOURNEY_AS_OF when set as the code loaded, else yesterday)"
        )
    return dg.RunRequest(run_key=key, partition_key=key)


defs = dg.Definitions(
    jobs=[ingest_job, transform_job, ml_job, insights_job, activation_job, nightly_job],
    schedules=[nightly_schedule],
)
