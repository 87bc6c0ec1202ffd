"""All dbt models and seeds as Dagster assets, dbt tests as asset checks, in one `dbt build`.

Each materialization carries the built table's row count (`dagster/row_count`) and its full column
schema as the warehouse reports it after the build (`dagster/column_schema`: every column with its type,
with the YAML column descriptions merged in; the definition-time schema lists only the YAML columns).
A run config `full_refresh: true` rebuilds the incremental models (sessions, touchpoints) from
scratch, e.g. after changing the channel rules or sessionization vars.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import dbt_assets, get_asset_key_for_model

from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.transform.project import dbt_project, ensure_manifest
from orchestration.defs.transform.resources import WarehouseDbtCliResource
from orchestration.defs.transform.translator import journey_translator

ensure_manifest(dbt_project)
COLUMN_SCHEMA = "dagster/column_schema"
CATALOG_COLUMNS = (
    "select column_name, data_type from information_schema.columns "
    "where table_schema = %s and table_name = %s order by ordinal_position"
)


class DbtBuildConfig(dg.Config):
    """Run options for the dbt build."""

    full_refresh: bool = False


# The segment models read what a Python asset writes after the ML scores (ingestion/activation):
# a dbt multi-asset of their own, so the main build is one step and the segments' a later one
# (one multi-asset holding both would be split by Dagster into steps around the cycle, seeds apart).
SEGMENT_MODELS = "path:models/staging/activation path:models/marts/activation"


def _dbt_build(
    context: dg.AssetExecutionContext, dbt: WarehouseDbtCliResource, config: DbtBuildConfig
) -> Iterator[Any]:
    dbt.warehouse.ensure_ready()
    args = ["build", *(["--full-refresh"] if config.full_refresh else [])]
    invocation = dbt.cli(args, context=context)
    events = invocation.stream().fetch_row_counts()
    yield from with_column_schemas(events, invocation.manifest, dbt.warehouse)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=journey_translator(),
    name="dbt_build",
    exclude=SEGMENT_MODELS,
    pool=WAREHOUSE_POOL,
)
def journey_dbt_assets(
    context: dg.AssetExecutionContext, dbt: WarehouseDbtCliResource, config: DbtBuildConfig
) -> Iterator[Any]:
    """`dbt build` of the selected models/seeds with their tests, streaming events as they happen. The
    raw contract is ensured first, so a warehouse no source has loaded yet still builds (empty)."""
    yield from _dbt_build(context, dbt, config)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=journey_translator(),
    name="dbt_segments",
    select=SEGMENT_MODELS,
    pool=WAREHOUSE_POOL,
)
def segment_dbt_assets(
    context: dg.AssetExecutionContext, dbt: WarehouseDbtCliResource, config: DbtBuildConfig
) -> Iterator[Any]:
    """`dbt build` of the segment models (marts.segment_members, marts.fct_segment_sizes_daily) and
    their tests, after `activation/segment_snapshots` wrote the day's members."""
    yield from _dbt_build(context, dbt, config)


def with_column_schemas(
    events: Iterable[Any], manifest: Mapping[str, Any], warehouse: Warehouse
) -> Iterator[Any]:
    """Each built model's or seed's output with its full column schema, read from the warehouse's
    catalog right after dbt built it (every column, its type, the YAML description and tags where the
    YAML documents it). The definition-time schema can only list the YAML columns.

    Why not dagster-dbt's `fetch_column_metadata()`: it also runs for every test result (204 fruitless
    catalog lookups on our project, 14.5 s of its thread time against 2.7 s for the 36 models, measured
    on the tiny shop), and its column lineage parses every model with sqlglot. One catalog query per
    model on one connection: 0.02 s for the 36 of the tiny shop."""
    with warehouse.connect("transformer", autocommit=True) as conn:
        for event in events:
            unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
            node = manifest["nodes"].get(unique_id.value) if unique_id is not None else None
            if node is None or node["resource_type"] not in ("model", "seed", "snapshot"):
                yield event
                continue
            found = conn.execute(
                CATALOG_COLUMNS, (node["schema"], node.get("alias") or node["name"])
            ).fetchall()
            if not found:  # e.g. an ephemeral model: nothing in the warehouse to describe
                yield event
                continue
            documented = node.get("columns", {})
            columns = [
                dg.TableColumn(
                    name=name,
                    type=data_type,
                    description=documented.get(name, {}).get("description") or None,
                    tags={tag: "" for tag in documented.get(name, {}).get("tags", [])},
                )
                for name, data_type in found
            ]
            yield event.with_metadata({**event.metadata, COLUMN_SCHEMA: dg.TableSchema(columns=columns)})


def dbt_model_key(model_name: str) -> dg.AssetKey:
    """The asset key of a dbt model (e.g. for ML assets' deps): `dbt_model_key("ml_customer_features")`."""
    # one manifest and translator behind both dbt multi-assets: either resolves every model's key
    return get_asset_key_for_model([journey_dbt_assets], model_name)
