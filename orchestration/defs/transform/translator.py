"""How dbt nodes become Dagster assets: groups follow the project's folders, sources join the dlt keys.

- models: group = their top folder (`staging`, `intermediate`, `marts`), the groups the jobs select;
- seeds: group `seeds`;
- sources: the key set in their YAML (`meta.dagster.asset_key: [dataset, table]`), which is the key of
  the dlt / loader asset that lands the table, so ingestion and dbt form one lineage graph;
- models and seeds are keyed `[schema, name]` (e.g. `marts/fct_orders`) by dagster-dbt's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from orchestration.defs.ops.freshness import MART_FRESHNESS

MODEL_GROUPS = ("staging", "intermediate", "marts")


class JourneyDbtTranslator(DagsterDbtTranslator):
    """Group by model folder; everything else as dagster-dbt does it (keys from `meta.dagster`)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "seed":
            return "seeds"
        if resource_type in ("model", "snapshot"):
            fqn = dbt_resource_props.get("fqn", [])
            folder = fqn[1] if len(fqn) > 2 else None
            if folder in MODEL_GROUPS:
                return folder
        return super().get_group_name(dbt_resource_props)

    def get_asset_spec(self, manifest, unique_id, project):  # noqa: ANN001, ANN201 (dagster-dbt signature)
        """Marts carry a freshness policy: the nightly run must rebuild them (warn 24 h, fail 26 h)."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.group_name == "marts":
            spec = spec.replace_attributes(freshness_policy=MART_FRESHNESS)
        return spec


def journey_translator() -> JourneyDbtTranslator:
    """The translator with dbt tests loaded as asset checks."""
    return JourneyDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
