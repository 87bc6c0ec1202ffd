"""Freshness: is the newest data in each source table recent enough, and were the tables rebuilt in time?

Two layers, because they fail for different reasons:
- data freshness (the `data_freshness` checks here): the newest *record* in a raw table versus the
  reference time (`JOURNEY_AS_OF`, set to the simulated shop's end date in the sandbox; wall-clock now in
  production) — catches a connector that runs fine but receives nothing new (expired token scope,
  paused tracker);
- materialization freshness: a `FreshnessPolicy` on every raw asset (`with_raw_freshness`, applied to
  every asset spec in definitions.py) and every mart (the dbt translator) — catches a nightly run that
  did not happen. Dagster's freshness daemon (part of `dagster-daemon`, which `dg dev` starts; on by
  default, `freshness: enabled` in dagster.yaml) evaluates the policies every 30 s and records PASS /
  WARN / FAIL state changes: no sensor, no check runs. They show on the asset's Overview tab
  ("Freshness policy") and in the asset health column of the catalog.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from orchestration.defs.shared.resources import Warehouse

# the nightly rebuilds raw tables and marts once a day: older than 24 h is late (WARN: tonight's run
# has not finished yet), older than 26 h means a night was missed (FAIL)
NIGHTLY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=24)
)
MART_FRESHNESS = NIGHTLY_FRESHNESS
RAW_FRESHNESS = NIGHTLY_FRESHNESS


def with_raw_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    """`RAW_FRESHNESS` on every asset of the ingest groups (dlt tables, events, order history) that has
    no policy of its own; other specs unchanged. One function over all specs (definitions.py), so a new
    source's assets are covered without touching their domain."""
    # imported here: jobs.py imports the insights partitions, whose package imports the dbt assets,
    # whose translator imports this module (MART_FRESHNESS)
    from orchestration.defs.ops.jobs import INGEST_GROUPS

    if spec.group_name in INGEST_GROUPS and spec.freshness_policy is None:
        return spec.replace_attributes(freshness_policy=RAW_FRESHNESS)
    return spec


class ReferenceClock(dg.ConfigurableResource):
    """'Now' for data-freshness checks: JOURNEY_AS_OF (ISO date/time) in the sandbox, else the wall clock."""

    as_of: str | None = Field(
        default=None, description="ISO timestamp or date; unset = JOURNEY_AS_OF at run time, else now (UTC)"
    )

    def now(self) -> datetime:
        import os

        as_of = self.as_of or os.environ.get("JOURNEY_AS_OF")  # read when used, not at import
        if not as_of:
            return datetime.now(UTC)
        ts = datetime.fromisoformat(as_of)
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# (asset key, SQL returning the newest record's timestamp, allowed age, what it means)
SOURCE_FRESHNESS = [
    (["shopify", "orders"], "select max(updated_at::timestamptz) from shopify.orders", timedelta(hours=26),
     "Shopify orders updated within 26 h"),
    (["meta_ads", "ads_insights"], "select max(date_start::date)::timestamptz + interval '1 day' from meta_ads.ads_insights",
     timedelta(days=1), "Meta insights for yesterday present"),
    (["google_ads", "campaign_daily"], "select max(date::date)::timestamptz + interval '1 day' from google_ads.campaign_daily",
     timedelta(days=1), "Google Ads campaign metrics for yesterday present"),
    (["ga4", "daily_traffic"], "select max(to_date(date, 'YYYYMMDD'))::timestamptz + interval '1 day' from ga4.daily_traffic",
     timedelta(days=2), "GA4 report rows up to the day before yesterday (GA4 processing delay)"),
    (["events", "events"], "select max(received_at) from events.events", timedelta(hours=26),
     "tracked events received within 26 h"),
]  # fmt: skip


# the resource of each source that says whether it is configured (orchestration/defs/shared/sources.py)
SOURCE_RESOURCES = {
    "shopify": "shopify_api",
    "meta_ads": "meta_ads_api",
    "google_ads": "google_ads_api",
    "ga4": "ga4_api",
    "events": "events_landing",
}


def _freshness_check(
    key: list[str], query: str, max_age: timedelta, meaning: str
) -> dg.AssetChecksDefinition:
    source_resource = SOURCE_RESOURCES[key[0]]

    @dg.asset_check(
        asset=dg.AssetKey(key),
        name="data_freshness",
        blocking=False,
        description=f"{meaning} (passes with a note while the source is not configured)",
        required_resource_keys={source_resource, "warehouse", "reference_clock"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        warehouse: Warehouse = context.resources.warehouse
        reference_clock: ReferenceClock = context.resources.reference_clock
        status = getattr(context.resources, source_resource).status()
        if not status.configured:
            return dg.AssetCheckResult(
                passed=True,
                description=f"{key[0]} is not configured ({status.reason}): nothing to be fresh",
                metadata={"source_configured": False},
            )
        with warehouse.connect("admin") as conn:
            newest = conn.execute(query).fetchone()[0]
        now = reference_clock.now()
        if newest is None:
            return dg.AssetCheckResult(passed=False, description=f"{'.'.join(key)} is empty ({meaning})")
        age = now - newest
        return dg.AssetCheckResult(
            passed=age <= max_age,
            description=f"newest record {newest.isoformat()} is {age} old at {now.isoformat()} (limit {max_age})",
            metadata={
                "newest": dg.MetadataValue.text(newest.isoformat()),
                "age_hours": age.total_seconds() / 3600,
            },
        )

    return _check


def source_freshness_checks() -> list[dg.AssetChecksDefinition]:
    return [_freshness_check(*spec) for spec in SOURCE_FRESHNESS]


def reference_clock_resource() -> ReferenceClock:
    import os

    return (
        ReferenceClock(as_of=dg.EnvVar("JOURNEY_AS_OF"))
        if os.environ.get("JOURNEY_AS_OF")
        else ReferenceClock()
    )
