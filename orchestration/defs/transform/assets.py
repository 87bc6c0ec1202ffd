"""All dbt models and seeds as Dagster assets, dbt tests as asset checks, in one `dbt build`.

Row counts of the built tables are attached to each materialization (`dagster/row_count`). A run config
`full_refresh: true` rebuilds the incremental models (sessions, touchpoints) from scratch, e.g. after
changing the channel rules or sessionization vars.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import dbt_assets, get_asset_key_for_model

from orchestration.defs.shared.resources import WAREHOUSE_POOL
from orchestration.defs.transform.project import dbt_project, ensure_manifest
from orchestration.defs.transform.resources import WarehouseDbtCliResource
from orchestration.defs.transform.translator import journey_translator

ensure_manifest(dbt_project)


class DbtBuildConfig(dg.Config):
    """Run options for the dbt build."""

    full_refresh: bool = False


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=journey_translator(),
    name="dbt_build",
    pool=WAREHOUSE_POOL,
)
def journey_dbt_assets(
    context: dg.AssetExecutionContext, dbt: WarehouseDbtCliResource, config: DbtBuildConfig
) -> Iterator[Any]:
    """`dbt build` of the selected models/seeds with their tests, streaming events as they happen. The
    raw contract is ensured first, so a warehouse no source has loaded yet still builds (empty)."""
    dbt.warehouse.ensure_ready()
    args = ["build", *(["--full-refresh"] if config.full_refresh else [])]
    yield from dbt.cli(args, context=context).stream().fetch_row_counts()


def dbt_model_key(model_name: str) -> dg.AssetKey:
    """The asset key of a dbt model (e.g. for ML assets' deps): `dbt_model_key("ml_customer_features")`."""
    return get_asset_key_for_model([journey_dbt_assets], model_name)
