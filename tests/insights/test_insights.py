"""Insights: contexts from the built tiny warehouse, generation over real HTTP against a local
OpenAI-compatible server, grounding, cache, rules without a key and privacy. The Dagster assets and
their daily partitions: test_insights_dagster.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket

import psycopg
import pytest

from ml.insights import TOPICS, run_topic
from ml.insights.grounding import check_insight
from ml.insights.llm import InsightGenerationError, LLMClient, LLMSettings
from ml.insights.pipeline import _generate_llm, build_context
from ml.insights.schema import Evidence, Insight
from tests.insights.conftest import ungrounded_answer

RUN_DATE = dt.date(2100, 1, 1)  # after the tiny world's end: contexts use the newest data instead
FAKE_KEY = "sk-test-DO-NOT-LEAK-4b7f1c"


def _llm(fake, model: str, **kw) -> LLMSettings:
    return LLMSettings(api_key=FAKE_KEY, base_url=fake.url, model=model, timeout=10, max_retries=2, **kw)


def _rows(settings, topic: str, run_date=RUN_DATE, role: str = "transformer") -> list[dict]:
    with psycopg.connect(settings.role_url(role)) as conn:
        cur = conn.execute(
            "select * from insights.llm_insights where run_date = %s and topic = %s order by rank",
            (run_date, topic),
        )
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# --- grounding (pure) --------------------------------------------------------------------------


def _insight(text: str, evidence: list[Evidence] | None = None) -> Insight:
    return Insight(
        headline="h", observation=text, recommendation="r", priority="low", evidence=evidence or []
    )


@pytest.mark.parametrize(
    "text, ok",
    [
        ("conversion was 12.3%", True),  # 0.1234 as a percent, rounded
        ("conversion was 0.12", True),  # truncated
        ("revenue 1,234.56", True),
        ("revenue 1,235", True),
        ("across 3 channels", False),  # integers need to be in the context
        ("across 7 channels", True),
        ("a drop of 4.2%", True),  # magnitude of -0.042
        ("conversion was 15%", False),
        ("in 2024-05", True),  # numbers inside context strings
        ("conversion was 13%", False),  # 12.34 neither rounds nor truncates to 13
        ("conversion was 12.4%", False),  # 12.34 rounds to 12.3: the last digit is not free
        ("conversion was 0.13", False),
        ("revenue 1.2k", True),  # rounded at its scale
        ("revenue 1.3k", False),
        ("revenue 1.23456e+03", True),  # exponent notation (str() of a float)
    ],
)
def test_grounding_rounding_percent_and_integers(text, ok):
    ctx = {"rate": 0.1234, "revenue": 1234.56, "channels": 7, "change": -0.042, "month": "2024-05"}
    assert (check_insight(_insight(text), ctx) == []) is ok


# --- contexts ----------------------------------------------------------------------------------


def test_contexts_without_ml_tables_say_no_data(insights_wh):
    with psycopg.connect(insights_wh.role_url("transformer")) as conn:
        for t in ("churn_scores", "ltv_predictions", "demand_forecast"):
            assert not conn.execute("select to_regclass(%s)", (f"ml.{t}",)).fetchone()[0]
        for topic in ("customers", "demand"):
            ctx = build_context(conn, topic, RUN_DATE)
            assert ctx["status"] == "no data" and "ML not run" in ctx["reason"], ctx
        for topic in ("funnel", "campaigns", "cohorts"):
            assert build_context(conn, topic, RUN_DATE)["status"] == "ok", topic
    result = run_topic("customers", RUN_DATE, insights_wh, LLMSettings())
    assert (result.status, result.published, result.rejected) == ("no data", 0, 0)
    (row,) = _rows(insights_wh, "customers")  # one row saying why, never an invented insight
    assert (row["status"], row["rank"], row["observation"]) == ("no_data", 0, result.reason)
    assert row["evidence"] == [] and row["priority"] == "low"


def test_reference_date_is_min_of_run_date_and_data(insights_wh):
    with psycopg.connect(insights_wh.role_url("transformer")) as conn:
        newest = conn.execute("select max(date_day) from marts.fct_funnel_daily").fetchone()[0]
        late = build_context(conn, "funnel", RUN_DATE)
        early = build_context(conn, "funnel", newest - dt.timedelta(days=20))
    assert late["reference_date"] == newest.isoformat()
    assert early["reference_date"] == (newest - dt.timedelta(days=20)).isoformat()
    assert late["step_moved_most"] in late["steps"]
    assert set(late["by_device"]) and set(late["by_channel"])


def test_customers_use_the_snapshot_of_the_run_dates_end(ml_tables):
    """A snapshot dated D holds what was known before D 00:00 UTC: it is the state at the end of D - 1,
    so run date D - 1 (the night of D) uses it, and run date D - 2 does not."""
    with psycopg.connect(ml_tables.role_url("transformer")) as conn:
        (snap,) = conn.execute("select max(snapshot_date) from ml.churn_scores").fetchone()
        day_before = build_context(conn, "customers", snap - dt.timedelta(days=1))
        two_before = build_context(conn, "customers", snap - dt.timedelta(days=2))
    assert day_before["status"] == "ok", day_before
    assert day_before["churn_risk"]["snapshot_date"] == snap.isoformat()
    assert day_before["predicted_ltv"]["snapshot_date"] == snap.isoformat()
    assert two_before["status"] == "no data" and "no churn scores" in two_before["reason"]


def test_no_pii_reaches_the_prompt(ml_tables, fake_openai):
    """Every topic's context goes over HTTP; the bodies the server received hold no PII value or column."""
    with psycopg.connect(ml_tables.role_url("admin")) as conn:
        pii = set()
        for row in conn.execute(
            "select email, phone, first_name, last_name, city from shopify.customers"
        ).fetchall():
            pii.update(str(v) for v in row if v and len(str(v)) >= 4)
        for (v,) in conn.execute("select email from shopify.orders where email is not null limit 200"):
            pii.add(v)
        ids = {str(r[0]) for r in conn.execute("select customer_id from marts.dim_customers").fetchall()}
    assert len(pii) > 50
    client = LLMClient(_llm(fake_openai, "pii-check"))
    with psycopg.connect(ml_tables.role_url("transformer")) as conn:
        for topic in TOPICS:
            ctx = build_context(conn, topic, RUN_DATE)
            assert ctx["status"] == "ok", (topic, ctx)
            _generate_llm(client, topic, ctx)
    assert len(fake_openai.requests) == len(TOPICS)
    sent = b"\n".join(fake_openai.raw_bodies).decode()
    leaked = [v for v in pii if v in sent]
    assert leaked == [], leaked[:5]
    for column in ("email", "phone", "first_name", "last_name", "address", "customer_id"):
        assert column not in sent, column
    contexts = [
        json.loads(r["messages"][1]["content"].split("Context JSON:\n", 1)[1]) for r in fake_openai.requests
    ]
    strings = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                strings.add(str(k))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        else:
            strings.add(str(node))

    walk(contexts)
    assert not (strings & ids), "a customer id reached a prompt"


# --- LLM over real HTTP --------------------------------------------------------------------------


def test_valid_answer_published_then_cached(insights_wh, fake_openai):
    result = run_topic("funnel", RUN_DATE, insights_wh, _llm(fake_openai, "gpt-4o-mini"))
    assert (result.generator, result.published, result.rejected, result.cache_hit) == ("llm", 1, 0, False)
    assert len(fake_openai.requests) == 1
    req = fake_openai.requests[0]
    assert req["model"] == "gpt-4o-mini" and req["response_format"]["type"] == "json_schema"
    assert (result.prompt_tokens, result.completion_tokens) == (1000, 200)
    assert result.cost_usd == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    rows = _rows(insights_wh, "funnel")
    assert [(r["status"], r["generator"], r["model"], r["prompt_tokens"]) for r in rows] == [
        ("published", "llm", "gpt-4o-mini", 1000)
    ]
    assert rows[0]["evidence"][0]["metric"]
    # the reporter (Metabase) reads it through default privileges
    assert len(_rows(insights_wh, "funnel", role="reporter")) == 1

    again = run_topic("funnel", RUN_DATE, insights_wh, _llm(fake_openai, "gpt-4o-mini"))
    assert len(fake_openai.requests) == 1, "second run with the same context must not call the API"
    assert again.cache_hit and again.published == 1 and again.prompt_tokens == 0
    assert len(_rows(insights_wh, "funnel")) == 1  # idempotent per (run_date, topic)


def test_ungrounded_answer_regenerated_once_then_rejected(insights_wh, fake_openai):
    fake_openai.script = [(200, ungrounded_answer), (200, ungrounded_answer)]
    result = run_topic("cohorts", RUN_DATE, insights_wh, _llm(fake_openai, "model-reject"))
    assert len(fake_openai.requests) == 2
    retry_prompt = fake_openai.requests[1]["messages"][-1]["content"]
    assert "987654.321" in retry_prompt and "not in the context" in retry_prompt
    assert (result.published, result.rejected) == (0, 1)
    (row,) = _rows(insights_wh, "cohorts")
    assert row["status"] == "rejected" and "987654.321" in row["rejection_reason"]
    assert row["prompt_tokens"] == 2000  # both calls counted


def test_ungrounded_then_grounded_is_published(insights_wh, fake_openai):
    fake_openai.script = [(200, ungrounded_answer)]
    result = run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "model-regen"))
    assert len(fake_openai.requests) == 2 and (result.published, result.rejected) == (1, 0)


def test_malformed_json_retried_then_clear_error(insights_wh, fake_openai):
    fake_openai.script = [(200, "this is {not json"), (200, '{"insights": [{"headline": 1}]}')]
    with pytest.raises(InsightGenerationError, match="malformed JSON twice"):
        run_topic("funnel", RUN_DATE, insights_wh, _llm(fake_openai, "model-malformed"))
    assert len(fake_openai.requests) == 2


def test_malformed_once_then_valid(insights_wh, fake_openai):
    fake_openai.script = [(200, "garbage")]
    result = run_topic("funnel", RUN_DATE, insights_wh, _llm(fake_openai, "model-malformed-once"))
    assert len(fake_openai.requests) == 2 and result.published == 1


def test_truncated_answer_is_a_clear_error(insights_wh, fake_openai):
    fake_openai.finish_reason = "length"
    with pytest.raises(InsightGenerationError, match="stopped before a complete answer"):
        run_topic("funnel", RUN_DATE, insights_wh, _llm(fake_openai, "model-length"))
    assert len(fake_openai.requests) == 1


def test_429_and_500_are_retried(insights_wh, fake_openai):
    fake_openai.script = [(429, ""), (500, "")]
    result = run_topic("funnel", RUN_DATE, insights_wh, _llm(fake_openai, "model-429"))
    assert len(fake_openai.requests) == 3 and result.published == 1


def test_unreachable_endpoint_clear_error_and_key_never_logged(insights_wh, fake_openai, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    settings = LLMSettings(
        api_key=FAKE_KEY, base_url=f"http://127.0.0.1:{dead}/v1", model="m", timeout=2, max_retries=1
    )
    with pytest.raises(InsightGenerationError, match="unreachable") as err:
        run_topic("funnel", RUN_DATE, insights_wh, settings)
    run_topic("funnel", RUN_DATE, insights_wh, _llm(fake_openai, "model-logs"))
    out, errs = capfd.readouterr()
    assert FAKE_KEY not in str(err.value) and FAKE_KEY not in repr(settings)
    assert FAKE_KEY not in caplog.text and FAKE_KEY not in out + errs
    assert "chat/completions" in caplog.text or fake_openai.requests  # logs were actually captured


# --- rules --------------------------------------------------------------------------------------


def test_without_key_every_topic_gets_grounded_rules_rows(ml_tables):
    for topic in TOPICS:
        result = run_topic(topic, RUN_DATE, ml_tables, LLMSettings(api_key=None))
        assert result.status == "ok", (topic, result.reason)
        rows = _rows(ml_tables, topic)
        assert rows, topic
        for r in rows:
            assert (r["generator"], r["model"], r["status"]) == ("rules", None, "published"), (topic, r)
            assert r["prompt_tokens"] == 0 and r["evidence"]


def test_demand_counts_days_and_misses_apart(ml_tables):
    with psycopg.connect(ml_tables.role_url("transformer")) as conn:
        ctx = build_context(conn, "demand", RUN_DATE)
    days = {o["date"] for o in ctx["largest_deviations"]}
    # the synthetic forecast doubles every third day, so units and revenue of several categories miss
    assert ctx["misses_outside_interval"] > ctx["days_with_a_miss"] >= len(days) >= 1
    assert ctx["days_with_a_miss"] <= 14
