"""Jobs and schedules, selected by asset group so each domain can grow without touching this file.

`insights_job` and `nightly_job` are partitioned by the insights' daily partitions (run date; Dagster
infers it from the selected assets, and allows one partitions definition beside unpartitioned assets): a
run needs a partition key (`nightly_partition_key()` for in-process runs; the schedule and UI backfills
pick their own). The unpartitioned ingest/dbt/ML assets in `nightly_job` run as usual in such a run.
"""

from __future__ import annotations

import dagster as dg

INGEST_GROUPS = ("shopify", "order_history", "meta_ads", "ga4", "events")
TRANSFORM_GROUPS = ("seeds", "staging", "intermediate", "marts")
ML_GROUPS = ("ml",)
INSIGHTS_GROUPS = ("insights",)

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups(*INGEST_GROUPS),
    description="Load every source into raw schemas",
)
transform_job = dg.define_asset_job(
    "transform_job",
    selection=dg.AssetSelection.groups(*TRANSFORM_GROUPS),
    description="dbt build: staging -> marts",
)
ml_job = dg.define_asset_job(
    "ml_job", selection=dg.AssetSelection.groups(*ML_GROUPS), description="Retrain and score models"
)
insights_job = dg.define_asset_job(
    "insights_job",
    selection=dg.AssetSelection.groups(*INSIGHTS_GROUPS),
    description="Write LLM insight tables for one run date (partition); backfill a range from the UI",
)
nightly_job = dg.define_asset_job(
    "nightly_job",
    selection=dg.AssetSelection.groups(*INGEST_GROUPS, *TRANSFORM_GROUPS, *ML_GROUPS, *INSIGHTS_GROUPS),
    description="Ingest -> dbt -> ML -> insights for the partition's run date, in dependency order",
    # run monitoring (dagster.yaml) fails a nightly still running after 4 h: a hang must page, not linger
    tags={"dagster/max_runtime": 4 * 3600},
)

# 02:00 in NIGHTLY_TIMEZONE (the partitions' time zone); each tick runs the partition of the day before.
nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job,
    name="nightly_schedule",
    hour_of_day=2,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 every night in NIGHTLY_TIMEZONE: nightly_job for yesterday's partition",
)

defs = dg.Definitions(
    jobs=[ingest_job, transform_job, ml_job, insights_job, nightly_job], schedules=[nightly_schedule]
)
