"""Segments and their syncs as assets (group `activation`):

    marts + ml scores -> activation/segment_snapshots (+ segment_evaluations)
                      -> dbt: marts/segment_members, marts/fct_segment_sizes_daily
                      -> activation/meta_custom_audiences, activation/shopify_customer_tags

The dbt models of the second step are the dbt multi-asset `dbt_segments` (defs/transform/assets.py),
a later step of the same run than the main dbt build. Each segment's upstream assets come from the
tables its SQL reads.

Sync assets push deltas only to the destinations `ACTIVATION_DESTINATIONS` names; any other sync is
a dry run (planned, recorded, nothing sent), as is every sync with run config `dry_run: true`.
A destination whose source is not configured reports why and sends nothing.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from ingestion.activation.evaluate import evaluate_segments, referenced_tables
from ingestion.activation.segments import SegmentDefinition, load_segments
from ingestion.activation.sync import META, SHOPIFY, sync_destination
from orchestration.defs.activation.resources import Activation, activation_resource, source_env
from orchestration.defs.meta_ads.resources import MetaAdsApi
from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.shared.sources import SourceResource
from orchestration.defs.shopify.resources import ShopifyApi
from orchestration.defs.transform.assets import dbt_model_key

GROUP = "activation"
SNAPSHOTS = dg.AssetKey(["activation", "segment_snapshots"])
EVALUATIONS = dg.AssetKey(["activation", "segment_evaluations"])


def table_key(table: str) -> dg.AssetKey:
    """The asset that builds `schema.table`: a dbt model for `marts.*`, the ML asset for `ml.*`."""
    schema, name = table.split(".", 1)
    return dbt_model_key(name) if schema == "marts" else dg.AssetKey([schema, name])


def segment_deps(definitions: list[SegmentDefinition]) -> list[dg.AssetKey]:
    tables = set().union(*(referenced_tables(d.sql) for d in definitions)) if definitions else set()
    tables.add("marts.dim_customers")  # the as-of date
    return sorted({table_key(t) for t in tables}, key=lambda k: k.to_user_string())


DEFINITIONS = load_segments()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            SNAPSHOTS,
            group_name=GROUP,
            deps=segment_deps(DEFINITIONS),
            description="Members of every segment in segments/*.yml on the marts' as-of day (customer ids)",
        ),
        dg.AssetSpec(
            EVALUATIONS,
            group_name=GROUP,
            deps=[SNAPSHOTS],
            description="One row per segment per evaluated day, with its size",
        ),
    ],
    name="segment_snapshots",
    pool=WAREHOUSE_POOL,
)
def segment_snapshots(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Evaluate each segment as the reporter role (its SQL checked first) and replace that day's members."""
    warehouse.ensure_ready()
    results = evaluate_segments(load_segments(), warehouse.settings())
    for r in results:
        context.log.info(
            f"segment {r.name}: "
            + (f"{r.members} members on {r.as_of_date}" if r.skipped is None else f"skipped ({r.skipped})")
        )
    sizes: dict[str, Any] = {f"members/{r.name}": r.members for r in results if r.members is not None}
    skipped = {r.name: r.skipped for r in results if r.skipped}
    as_of = next((str(r.as_of_date) for r in results if r.as_of_date), None)
    yield dg.MaterializeResult(
        asset_key=SNAPSHOTS,
        metadata={
            **sizes,
            "as_of_date": as_of or "",
            "segments_evaluated": len(sizes),
            "segments_skipped": dg.MetadataValue.json(skipped),
            "dagster/row_count": warehouse.table_rows("activation", "segment_snapshots"),
        },
    )
    yield dg.MaterializeResult(
        asset_key=EVALUATIONS,
        metadata={"dagster/row_count": warehouse.table_rows("activation", "segment_evaluations")},
    )


class SyncConfig(dg.Config):
    dry_run: bool = Field(default=False, description="Plan and record the changes, send nothing")
    segments: list[str] | None = Field(
        default=None, description="Only these segments (default: all for this destination)"
    )


def _sync(
    context: dg.AssetExecutionContext,
    destination: str,
    config: SyncConfig,
    warehouse: Warehouse,
    source: SourceResource,
    activation: Activation,
) -> dg.MaterializeResult:
    definitions = [
        d
        for d in load_segments()
        if destination in d.destinations and (config.segments is None or d.name in config.segments)
    ]
    status = source.status()
    if not status.configured:
        context.log.warning(f"{destination}: not synced, the source is not configured ({status.reason})")
        return dg.MaterializeResult(
            metadata={"destination_configured": False, "not_configured_because": status.reason}
        )
    with warehouse.connect("transformer", autocommit=True) as conn:
        run = sync_destination(
            conn, destination, definitions, activation.live(), dry_run=config.dry_run,
            env=source_env(source), run_id=context.run.run_id, echo=context.log.info,
        )  # fmt: skip
    outcomes, failures = run.outcomes, run.failures
    metadata: dict[str, Any] = {"dry_run": run.dry_run, "segments_synced": len(outcomes)}
    for o in outcomes:
        seg = o.plan.segment
        metadata[f"{seg}/planned_adds"] = len(o.plan.adds)
        metadata[f"{seg}/planned_removes"] = len(o.plan.removes)
        metadata[f"{seg}/adds"] = o.adds
        metadata[f"{seg}/removes"] = o.removes
        metadata[f"{seg}/without_consent"] = o.plan.without_consent
        if o.match_rate is not None:
            metadata[f"{seg}/match_rate"] = float(o.match_rate)
        if o.audience_id:
            metadata[f"{seg}/audience_id"] = o.audience_id
    if failures:
        raise dg.Failure(
            description=f"{destination}: {len(failures)} of {len(definitions)} segments failed to sync:\n"
            + "\n".join(failures),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


SYNC_DEPS = [
    dbt_model_key("segment_members"),
    dbt_model_key("fct_segment_sizes_daily"),
    dbt_model_key("dim_customers"),
]


@dg.asset(
    key=["activation", "meta_custom_audiences"],
    group_name=GROUP,
    deps=SYNC_DEPS,
    pool=WAREHOUSE_POOL,
    description="Segments marked for meta_custom_audiences, synced as deltas to one Custom Audience each",
)
def meta_custom_audiences(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    warehouse: Warehouse,
    meta_ads_api: MetaAdsApi,
    activation: Activation,
) -> dg.MaterializeResult:
    return _sync(context, META, config, warehouse, meta_ads_api, activation)


@dg.asset(
    key=["activation", "shopify_customer_tags"],
    group_name=GROUP,
    deps=SYNC_DEPS,
    pool=WAREHOUSE_POOL,
    description="Segments marked for shopify_tags, synced as deltas to a `journey:<segment>` customer tag",
)
def shopify_customer_tags(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    warehouse: Warehouse,
    shopify_api: ShopifyApi,
    activation: Activation,
) -> dg.MaterializeResult:
    return _sync(context, SHOPIFY, config, warehouse, shopify_api, activation)


defs = dg.Definitions(
    assets=[segment_snapshots, meta_custom_audiences, shopify_customer_tags],
    resources={"activation": activation_resource()},
)
