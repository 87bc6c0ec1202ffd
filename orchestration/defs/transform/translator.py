"""How dbt nodes become Dagster assets: groups follow the project's folders, sources join the dlt keys.

- models: group = their top folder (`staging`, `intermediate`, `marts`), the groups the jobs select;
  tag `domain` from the folder below it and `pii=hashed` when the SQL hashes personal data
  (orchestration/defs/shared/catalog.py; owners and tier come from the group there);
- seeds: group `seeds`;
- sources: the key set in their YAML (`meta.dagster.asset_key: [dataset, table]`), which is the key of
  the dlt / loader asset that lands the table, so ingestion and dbt form one lineage graph;
- models and seeds are keyed `[schema, name]` (e.g. `marts/fct_orders`) by dagster-dbt's default;
- tests: asset checks, including the tests on sources, which become checks on the raw assets (run by
  the dbt step, so a failed raw-table test is a failed check, not an observation in the log); each
  check's description is the test's YAML `description`, else a sentence built from what the test
  asserts (`describe_test`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings
from dagster_dbt.asset_utils import get_node

from orchestration.defs.ops.freshness import MART_FRESHNESS
from orchestration.defs.shared.catalog import dbt_domain

MODEL_GROUPS = ("staging", "intermediate", "marts")
_REF = re.compile(r"""(?:ref|source)\(\s*(?:['"]([^'"]+)['"]\s*,\s*)?['"]([^'"]+)['"]\s*\)""")


def _target(to: str) -> str:
    """`ref('dim_customers')` -> `dim_customers`; `source('shopify', 'orders')` -> `shopify.orders`."""
    match = _REF.search(to or "")
    if not match:
        return str(to)
    return ".".join(part for part in match.groups() if part)


def _values(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _leading_comment(sql: str) -> str:
    """The `--` comment lines a singular test opens with (its statement of what must hold)."""
    lines = []
    for line in sql.strip().splitlines():
        if not line.lstrip().startswith("--"):
            break
        lines.append(line.lstrip()[2:].strip())
    return " ".join(lines)


def describe_test(test: Mapping[str, Any], model_name: str | None = None) -> str:
    """What a dbt test asserts, in a sentence: its YAML `description` (or `meta.description`), else
    built from the generic test's name and arguments (`unique`, `not_null`, `accepted_values`,
    `relationships`, our `at_most` and `unique_combination_of_columns`), a singular test's leading
    SQL comment, and the rows it applies to (`config.where`)."""
    given = test.get("description") or (test.get("meta") or {}).get("description")
    if given:
        return str(given).strip()
    metadata = test.get("test_metadata") or {}
    kwargs = metadata.get("kwargs") or {}
    column = kwargs.get("column_name") or test.get("column_name")
    on = f"{model_name}." if model_name else ""
    name = metadata.get("name")
    if name == "unique":
        sentence = f"{on}{column} is unique"
    elif name == "not_null":
        sentence = f"{on}{column} is never null"
    elif name == "accepted_values":
        sentence = f"{on}{column} is one of: {_values(kwargs.get('values', []))}"
    elif name == "relationships":
        sentence = (
            f"relationship: {on}{column} -> {_target(kwargs.get('to', ''))}.{kwargs.get('field')} "
            f"(every {column} exists there)"
        )
    elif name == "at_most":
        sentence = f"{on}{column} <= {kwargs.get('other_column')} on every row where both are set"
    elif name == "unique_combination_of_columns":
        sentence = f"one row per ({', '.join(kwargs.get('combination_of_columns', []))})" + (
            f" in {model_name}" if model_name else ""
        )
    elif name:
        arguments = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("model", "column_name"))
        sentence = f"{on}{column + ' ' if column else ''}passes dbt test {name}({arguments})"
    else:
        sentence = _leading_comment(test.get("raw_code") or "") or f"dbt singular test {test.get('name')}"
    where = (test.get("config") or {}).get("where")
    if where and str(where).strip().lower() not in ("true", "false"):
        sentence += f" (rows where {where})"
    return sentence


class JourneyDbtTranslator(DagsterDbtTranslator):
    """Group by model folder; catalog tags; described checks; keys from `meta.dagster` as dagster-dbt
    does it."""

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

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        """dbt's own tags, plus `domain` (model folder) and `pii=hashed` (the SQL calls hash_pii)."""
        tags = dict(super().get_tags(dbt_resource_props))
        if dbt_resource_props["resource_type"] in ("model", "snapshot"):
            domain = dbt_domain(list(dbt_resource_props.get("fqn", [])))
            if domain:
                tags["domain"] = domain
            if "hash_pii(" in (dbt_resource_props.get("raw_code") or ""):
                tags["pii"] = "hashed"
        return tags

    def get_asset_spec(self, manifest, unique_id, project):  # noqa: ANN001, ANN201 (dagster-dbt signature)
        """Marts carry a freshness policy: the nightly run must rebuild them (warn 24 h, fail 26 h)."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.group_name == "marts":
            spec = spec.replace_attributes(freshness_policy=MART_FRESHNESS)
        return spec

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):  # noqa: ANN001, ANN201
        """dagster-dbt's check, described: the YAML description or what the test asserts."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = get_node(manifest, unique_id)
        return dg.AssetCheckSpec(
            spec.name,
            asset=spec.asset_key,
            description=describe_test(test, _tested_name(manifest, test)),
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata=spec.metadata,
            automation_condition=spec.automation_condition,
            partitions_def=spec.partitions_def,
        )


def _tested_name(manifest: Mapping[str, Any], test: Mapping[str, Any]) -> str | None:
    """The model a generic test is attached to (`fct_orders`), or its source table (`shopify.orders`)."""
    attached = test.get("attached_node")
    if attached:
        return get_node(manifest, attached)["name"]
    sources = [n for n in test["depends_on"]["nodes"] if n.startswith("source.")]
    if len(sources) == 1:
        source = get_node(manifest, sources[0])
        return f"{source['source_name']}.{source['name']}"
    return None


def journey_translator() -> JourneyDbtTranslator:
    """The translator with dbt tests, source tests included, loaded as asset checks."""
    return JourneyDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_source_tests_as_checks=True)
    )
