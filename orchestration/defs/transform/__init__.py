"""Dagster wrapper of the dbt project (dbt_project/): models and seeds as assets, tests as checks."""

import dagster as dg

from orchestration.defs.transform.assets import dbt_model_key, journey_dbt_assets, segment_dbt_assets
from orchestration.defs.transform.resources import dbt_resource

defs = dg.Definitions(assets=[journey_dbt_assets, segment_dbt_assets], resources={"dbt": dbt_resource()})

__all__ = ["dbt_model_key", "defs", "journey_dbt_assets", "segment_dbt_assets"]
