"""LLM insight tables: per-topic aggregate contexts, grounded generation (LLM or rules), cache and store.

Plain Python (no Dagster): `orchestration/defs/insights/` wraps `run_topic` as one asset per topic.
"""

from ml.insights.pipeline import TopicResult, run_topic
from ml.insights.topics import TOPICS

__all__ = ["TOPICS", "TopicResult", "run_topic"]
