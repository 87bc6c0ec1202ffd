"""Insight topics on shops with fewer sources: a topic without data says "no data" with the reason,
stores one `no_data` row saying so for its run date (no invented insight), and leaves every other
topic alone."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import psycopg
import pytest

from ml import churn, forecast, ltv
from ml.core import replace_table
from ml.insights import TOPICS, run_topic
from ml.insights.llm import LLMSettings
from ml.insights.pipeline import build_context

# a day near the tiny world's end that no other insights test writes (their rows are left alone)
RUN_DATE = dt.date(2025, 6, 25)
SCORED = (churn, ltv, forecast)  # the ML outputs the topics read


def _empty_ml_tables(settings) -> None:
    """The scoring tables as a skipped model writes them: the columns, no rows."""
    with psycopg.connect(settings.role_url("transformer"), autocommit=True) as conn:
        for pkg in SCORED:
            replace_table(
                conn, pkg.OUTPUT_TABLE, pd.DataFrame(columns=list(pkg.COLUMN_TYPES)), pkg.COLUMN_TYPES
            )


def _drop_ml_tables(settings) -> None:
    with psycopg.connect(settings.role_url("transformer"), autocommit=True) as conn:
        for pkg in SCORED:
            conn.execute(f"drop table if exists {pkg.OUTPUT_TABLE}")


def _stored(settings, topic: str) -> int:
    """Published insights of the topic on RUN_DATE."""
    with psycopg.connect(settings.role_url("reporter")) as conn:
        return conn.execute(
            "select count(*) from insights.llm_insights where run_date = %s and topic = %s "
            "and status = 'published'",
            (RUN_DATE, topic),
        ).fetchone()[0]


def _no_data_reason(settings, topic: str) -> str | None:
    with psycopg.connect(settings.role_url("reporter")) as conn:
        row = conn.execute(
            "select observation from insights.llm_insights where run_date = %s and topic = %s "
            "and status = 'no_data'",
            (RUN_DATE, topic),
        ).fetchone()
    return row[0] if row else None


@pytest.fixture
def empty_ml_outputs(empty_insights_wh):
    _empty_ml_tables(empty_insights_wh)
    yield empty_insights_wh
    _drop_ml_tables(empty_insights_wh)


def test_every_topic_on_empty_marts_says_which_table_is_empty(empty_insights_wh):
    expected = {
        "funnel": "marts.fct_funnel_daily is empty",
        "campaigns": "marts.fct_campaign_performance_daily is empty",
        "cohorts": "marts.fct_cohort_retention is empty",
        "customers": "do not exist (ML not run)",
        "demand": "does not exist (ML not run)",
    }
    with psycopg.connect(empty_insights_wh.role_url("transformer")) as conn:
        for topic, says in expected.items():
            ctx = build_context(conn, topic, RUN_DATE)
            assert ctx["status"] == "no data" and says in ctx["reason"], (topic, ctx)


def test_empty_ml_tables_are_no_data_and_store_nothing(empty_ml_outputs):
    with psycopg.connect(empty_ml_outputs.role_url("transformer")) as conn:
        customers = build_context(conn, "customers", RUN_DATE)
        demand = build_context(conn, "demand", RUN_DATE)
    assert customers["reason"].startswith("ml.churn_scores and ml.ltv_predictions are empty")
    assert demand["reason"].startswith("ml.demand_forecast is empty")
    for topic in TOPICS:
        result = run_topic(topic, RUN_DATE, empty_ml_outputs, LLMSettings())
        assert (result.status, result.generator, result.published, result.rejected) == ("no data", None, 0, 0)
        assert result.reason and _stored(empty_ml_outputs, topic) == 0, topic
        assert _no_data_reason(empty_ml_outputs, topic) == result.reason, topic


def test_a_topic_without_data_leaves_the_others_alone(insights_wh):
    """On the full tiny shop with the ML tables written empty (models skipped): customers and demand
    say no data, the mart-based topics still publish."""
    _empty_ml_tables(insights_wh)
    try:
        results = {topic: run_topic(topic, RUN_DATE, insights_wh, LLMSettings()) for topic in TOPICS}
        stored = {topic: _stored(insights_wh, topic) for topic in TOPICS}
        said = {topic: _no_data_reason(insights_wh, topic) for topic in TOPICS}
    finally:
        _drop_ml_tables(insights_wh)
        with psycopg.connect(insights_wh.role_url("transformer"), autocommit=True) as conn:
            conn.execute("delete from insights.llm_insights where run_date = %s", (RUN_DATE,))
    assert {t: r.status for t, r in results.items()} == {
        "funnel": "ok", "campaigns": "ok", "cohorts": "ok", "customers": "no data", "demand": "no data",
    }  # fmt: skip
    for topic in ("funnel", "campaigns", "cohorts"):
        assert results[topic].published >= 1 and stored[topic] == results[topic].published, topic
        assert said[topic] is None, topic
    assert stored["customers"] == 0 and stored["demand"] == 0
    assert said["customers"] == results["customers"].reason and said["demand"] == results["demand"].reason
