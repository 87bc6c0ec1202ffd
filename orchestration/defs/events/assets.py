"""`[events, events]`, `[events, rejected]` and `[events, loaded_files]`: one load of the closed landing
files per materialization (`loaded_files` is the loader's per-file bookkeeping, read by dbt staging).

Why a multi-asset and not `@dlt_assets`: the hot path is COPY + SQL (see ingestion/events/load/loader.py
for the measured reason); the asset keys still follow the dlt convention `[dataset, table]` so the dbt
sources of the `events` schema join this lineage.
"""

from collections.abc import Iterator

import dagster as dg

from ingestion.events.load import load_landing_files
from orchestration.defs.events.resources import EventsLanding, events_landing_resource
from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.shared.sources import configured_metadata, idle_source_results

EVENTS_KEY = dg.AssetKey(["events", "events"])
REJECTED_KEY = dg.AssetKey(["events", "rejected"])
LOADED_FILES_KEY = dg.AssetKey(["events", "loaded_files"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            EVENTS_KEY,
            group_name="events",
            kinds={"postgres"},
            description="First-party tracked events, one row per message_id",
        ),  # fmt: skip
        dg.AssetSpec(
            REJECTED_KEY,
            group_name="events",
            kinds={"postgres"},
            description="Landing lines that failed validation, with reason and raw text",
        ),  # fmt: skip
        dg.AssetSpec(
            LOADED_FILES_KEY,
            group_name="events",
            kinds={"postgres"},
            description="One row per landing file loaded (rows loaded, rejected, duplicate; when): what "
            "makes each file load exactly once",
        ),  # fmt: skip
    ],
    name="events_landing_load",
    pool=WAREHOUSE_POOL,
)
def events_landing_load(
    context: dg.AssetExecutionContext, warehouse: Warehouse, events_landing: EventsLanding
) -> Iterator[dg.MaterializeResult]:
    """Load every landing file not loaded before (exactly once per file; duplicates skipped). Optional
    source: without EVENTS_LANDING_DIR (or the sandbox's landing dir) it reports "not configured"."""
    warehouse.ensure_ready()
    status = events_landing.status()
    if not status.configured:
        yield from idle_source_results(context, status, warehouse)
        return
    landing_dir = events_landing.path()
    result = load_landing_files(landing_dir, warehouse.settings())
    context.log.info(
        f"{landing_dir}: {result.files} files, {result.rows_loaded} rows loaded, "
        f"{result.rows_rejected} rejected, {result.duplicates_skipped} duplicates skipped"
    )
    total = warehouse.row_count("events", "events")
    yield dg.MaterializeResult(
        asset_key=EVENTS_KEY,
        metadata={
            "landing_dir": str(landing_dir),
            "files_consumed": result.files,
            "files_already_loaded": result.files_skipped,
            "rows_loaded": result.rows_loaded,
            "rows_rejected": result.rows_rejected,
            "duplicates_skipped": result.duplicates_skipped,
            "rows_per_s": round(result.lines / result.seconds) if result.seconds else 0,
            "dagster/row_count": total,
            "load_id": result.load_id,
            **configured_metadata(status),
        },
    )
    yield dg.MaterializeResult(
        asset_key=REJECTED_KEY,
        metadata={
            "rows_rejected": result.rows_rejected,
            "dagster/row_count": warehouse.row_count("events", "rejected"),
            **configured_metadata(status),
        },
    )
    yield dg.MaterializeResult(
        asset_key=LOADED_FILES_KEY,
        metadata={
            "files_consumed": result.files,
            "dagster/row_count": warehouse.row_count("events", "loaded_files"),
            **configured_metadata(status),
        },
    )


defs = dg.Definitions(assets=[events_landing_load], resources={"events_landing": events_landing_resource()})
