"""Dagster wrapper of `ml.insights`: one asset per topic writing `insights.llm_insights`."""

from orchestration.defs.insights.assets import defs, insight_assets

__all__ = ["defs", "insight_assets"]
