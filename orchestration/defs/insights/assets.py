"""One asset per insight topic, keyed ["insights", "<topic>_insights"], group "insights", daily
partitioned by run date (`insights_partitions`): materializing partition 2025-06-28 writes the rows of
run date 2025-06-28, replacing earlier ones (idempotent per run date and topic), so a backfill of a
date range from the UI is one run per day. A topic whose LLM answer failed falls back to the rules and
still succeeds, reporting `fallback_reason`; the metadata shows the published insights as a table.
See docs/insights.md.
"""

import datetime as dt
import importlib
import os

import dagster as dg
from pydantic import Field

from ml.insights import TOPICS, run_topic
from ml.insights.llm import DEFAULT_MODEL, LLMSettings
from ml.insights.store import InsightRow
from orchestration.defs.insights.partitions import insights_partitions
from orchestration.defs.shared.resources import Warehouse
from orchestration.defs.transform import dbt_model_key

TOPIC_MARTS = {
    "funnel": ["fct_funnel_daily", "fct_sessions"],
    "campaigns": ["fct_campaign_performance_daily"],
    "cohorts": ["fct_cohort_retention"],
    "customers": ["dim_customers"],
    "demand": ["fct_order_items"],
}
# ML outputs the topics read; they are wired as deps only when the ML domain defines them (see defs).
TOPIC_ML = {
    "customers": [["ml", "churn_scores"], ["ml", "ltv_predictions"]],
    "demand": [["ml", "demand_forecast"]],
}


class LLMResource(dg.ConfigurableResource):
    """OpenAI-compatible endpoint; no api_key -> the rule-based generator (offline nightly runs)."""

    api_key: str | None = Field(default=None, description="OPENAI_API_KEY; unset = rules")
    base_url: str | None = Field(default=None, description="OPENAI_BASE_URL; unset = api.openai.com")
    model: str = Field(default=DEFAULT_MODEL, description="OPENAI_MODEL")
    timeout: float = 60.0
    max_retries: int = 3

    def settings(self) -> LLMSettings:
        return LLMSettings(
            api_key=self.api_key or None,
            base_url=self.base_url or None,
            model=self.model,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def insights_markdown(rows: list[InsightRow]) -> str:
    """The run's published insights as a markdown table (what a marketer reads in the asset's page)."""
    published = [r for r in rows if r.status == "published"]
    if not published:
        return "_No published insight for this run date._"
    lines = ["| rank | priority | headline | observation | generator |", "|---|---|---|---|---|"]
    lines += [
        f"| {r.rank} | {r.priority} | {_cell(r.headline)} | {_cell(r.observation)} | {r.generator} |"
        for r in published
    ]
    return "\n".join(lines)


def _insight_asset(topic: str, ml_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    deps = [dbt_model_key(m) for m in TOPIC_MARTS[topic]] + ml_keys

    @dg.asset(
        key=dg.AssetKey(["insights", f"{topic}_insights"]),
        group_name="insights",
        deps=deps,
        partitions_def=insights_partitions,
        kinds={"python", "postgres"},
        description=f"Grounded insights on {topic} (LLM or rules) in insights.llm_insights",
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: Warehouse, llm: LLMResource
    ) -> dg.MaterializeResult:
        run_date = dt.date.fromisoformat(context.partition_key)
        res = run_topic(topic, run_date, warehouse.settings(), llm.settings())
        context.log.info(
            f"{topic} {run_date}: status={res.status} generator={res.generator} published={res.published} "
            f"rejected={res.rejected} cache_hit={res.cache_hit}" + (f" ({res.reason})" if res.reason else "")
        )
        if res.fallback_reason:
            context.log.warning(f"{topic} {run_date}: rules fallback: {res.fallback_reason}")
        return dg.MaterializeResult(
            metadata={
                "run_date": run_date.isoformat(),
                "context_status": res.status,
                "reason": res.reason or "",
                "generator": res.generator or "none",
                "model": res.model or "",
                "published": res.published,
                "rejected": res.rejected,
                "prompt_tokens": res.prompt_tokens,
                "completion_tokens": res.completion_tokens,
                "cost_usd": float(res.cost_usd or 0.0),
                "cache_hit": res.cache_hit,
                "fallback_reason": res.fallback_reason or "",
                "insights": dg.MetadataValue.md(insights_markdown(res.rows)),
            }
        )

    return _asset


def llm_resource() -> LLMResource:
    """From the environment at load time; EnvVar keeps the key out of run config and logs."""
    kwargs: dict = {}
    for field, var in (
        ("api_key", "OPENAI_API_KEY"),
        ("base_url", "OPENAI_BASE_URL"),
        ("model", "OPENAI_MODEL"),
    ):
        if os.environ.get(var):
            kwargs[field] = dg.EnvVar(var)
    return LLMResource(**kwargs)


def asset_keys_of(defs: dg.Definitions) -> set[tuple[str, ...]]:
    """Asset keys a domain's Definitions declares, read without resolving resources: a domain's
    `defs` leaves shared resources (warehouse, reference_clock) to definitions.py, so building its
    repository alone would fail with a missing resource."""
    keys: set[tuple[str, ...]] = set()
    for a in defs.assets or []:
        if isinstance(a, dg.AssetsDefinition):
            keys |= {tuple(k.path) for k in a.keys}
        elif isinstance(a, dg.AssetSpec):
            keys.add(tuple(a.key.path))
    return keys


def _ml_keys_defined() -> set[tuple[str, ...]]:
    """ML asset keys defined by the ML domain, if it exists yet (it may land after this module).
    Only the ML package's absence is tolerated; an import error inside it still fails loudly."""
    try:
        ml_domain = importlib.import_module("orchestration.defs.ml")
    except ModuleNotFoundError as exc:
        if exc.name != "orchestration.defs.ml":
            raise
        return set()
    return asset_keys_of(ml_domain.defs)


_ML_DEFINED = _ml_keys_defined()
insight_assets = [
    _insight_asset(topic, [dg.AssetKey(k) for k in TOPIC_ML.get(topic, []) if tuple(k) in _ML_DEFINED])
    for topic in TOPICS
]

defs = dg.Definitions(assets=insight_assets, resources={"llm": llm_resource()})
