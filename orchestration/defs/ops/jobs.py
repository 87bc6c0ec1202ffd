"""Jobs and schedules, selected by asset group so each domain can grow without touching this file."""

from __future__ import annotations

import os

import dagster as dg

INGEST_GROUPS = ("shopify", "meta_ads", "ga4", "events")
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
    description="Write LLM insight tables",
)
nightly_job = dg.define_asset_job(
    "nightly_job",
    selection=dg.AssetSelection.groups(*INGEST_GROUPS, *TRANSFORM_GROUPS, *ML_GROUPS, *INSIGHTS_GROUPS),
    description="Ingest -> dbt -> ML -> insights, in dependency order",
)

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone=os.environ.get("NIGHTLY_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 every night in NIGHTLY_TIMEZONE",
)

defs = dg.Definitions(
    jobs=[ingest_job, transform_job, ml_job, insights_job, nightly_job], schedules=[nightly_schedule]
)
