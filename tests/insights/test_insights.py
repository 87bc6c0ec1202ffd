"""Insights: contexts from the built tiny warehouse, generation over real HTTP against a local
OpenAI-compatible server, grounding, cache, rules without a key and privacy. The Dagster assets and
their daily partitions: test_insights_dagster.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import socket

import psycopg
import pytest

from ml.insights import TOPICS, rules, run_topic, store
from ml.insights.grounding import check_insight
from ml.insights.llm import LLMClient, LLMSettings
from ml.insights.pipeline import _generate_llm, build_context, rank_rows
from ml.insights.schema import Evidence, Insight
from tests.insights.conftest import coincidental_answer, ungrounded_answer, wrong_direction_answer

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
    "text, metric, ok",
    [
        ("conversion was 12.3%", "conversion_rate", True),  # 0.1234 as a percent, rounded
        ("conversion was 12%", "conversion_rate", True),
        ("conversion was 0.12", "conversion_rate", True),  # the fraction itself
        (
            "conversion was 12.4%",
            "conversion_rate",
            False,
        ),  # 12.34 rounds to 12.3: the last digit is not free
        ("conversion was 13%", "conversion_rate", False),
        ("revenue $1,234.56", "revenue", True),
        ("revenue $1,235", "revenue", True),  # whole units
        ("revenue $1.2k", "revenue", True),  # rounded at its scale
        ("revenue $1.3k", "revenue", False),
        ("revenue 1,234.56 EUR", "revenue", False),  # not the shop's currency
        ("across 7 channels", "channels", True),
        ("across 3 channels", "channels", False),  # integers need a cited metric too
        ("across 7 channels", "revenue", False),  # 7 is in the context, but not cited
        ("conversion fell 4.2 points", "conversion_rate_points", True),  # magnitude of -0.042
        ("conversion fell 4.2%", "conversion_rate_points", False),  # % for points: unit mismatch
        ("conversion rose 4.2 points", "conversion_rate_points", False),  # direction against the sign
        ("in 2024-05, 7 channels", "channels", True),  # a context date, never evidence
        ("on 2024-05-05, 7 channels", "channels", False),  # an invented date
        ("5 channels in 2024-05", "channels", False),  # 5 is only part of a date
    ],
)
def test_grounding_rounding_percent_and_integers(text, metric, ok):
    ctx = {
        "currency": "USD", "conversion_rate": 0.1234, "revenue": 1234.56, "channels": 7,
        "conversion_rate_points": -0.042, "month": "2024-05",
    }  # fmt: skip
    insight = _insight(text, [Evidence(metric=metric, value=ctx[metric])])
    assert (check_insight(insight, ctx) == []) is ok


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
        newest = conn.execute("select max(date_day) from marts.fct_campaign_performance_daily").fetchone()[0]
        late = build_context(conn, "campaigns", RUN_DATE)
        early = build_context(conn, "campaigns", newest - dt.timedelta(days=20))
        currency = conn.execute(
            "select currency_code from marts.fct_orders group by 1 order by count(*) desc limit 1"
        ).fetchone()[0]
    assert late["reference_date"] == newest.isoformat()
    assert early["reference_date"] == (newest - dt.timedelta(days=20)).isoformat()
    assert late["currency"] == early["currency"] == currency  # the shop's, at the context's root


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
    result = run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "gpt-4o-mini"))
    assert (result.generator, result.published, result.rejected, result.cache_hit) == ("llm", 1, 0, False)
    assert result.fallback_reason is None
    assert len(fake_openai.requests) == 1
    req = fake_openai.requests[0]
    assert req["model"] == "gpt-4o-mini" and req["response_format"]["type"] == "json_schema"
    assert (result.prompt_tokens, result.completion_tokens) == (1000, 200)
    assert result.cost_usd == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    rows = _rows(insights_wh, "campaigns")
    assert [
        (r["status"], r["generator"], r["model"], r["prompt_tokens"], r["fallback_reason"]) for r in rows
    ] == [("published", "llm", "gpt-4o-mini", 1000, None)]
    assert rows[0]["evidence"][0]["metric"]
    # the reporter (Metabase) reads it through default privileges
    assert len(_rows(insights_wh, "campaigns", role="reporter")) == 1

    again = run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "gpt-4o-mini"))
    assert len(fake_openai.requests) == 1, "second run with the same context must not call the API"
    assert again.cache_hit and again.published == 1 and again.prompt_tokens == 0
    assert len(_rows(insights_wh, "campaigns")) == 1  # idempotent per (run_date, topic)


def _assert_fell_back(settings, topic: str, result, reason_has: str, llm_rows: int) -> list[dict]:
    """The rules published, labelled with why; the LLM's rows (if any) kept as rejected, ranked after."""
    assert result.generator == "rules" and result.model is None
    assert reason_has in result.fallback_reason, result.fallback_reason
    rows = _rows(settings, topic)
    rules_rows = [r for r in rows if r["generator"] == "rules"]
    assert rules_rows and all(r["fallback_reason"] == result.fallback_reason for r in rules_rows)
    assert all(r["status"] == "published" for r in rules_rows), [r["rejection_reason"] for r in rules_rows]
    llm = [r for r in rows if r["generator"] == "llm"]
    assert len(llm) == llm_rows and all(r["status"] == "rejected" and r["rejection_reason"] for r in llm)
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["status"] for r in rows] == sorted((r["status"] for r in rows), key=lambda s: s != "published")
    assert (result.published, result.rejected) == (len(rules_rows), llm_rows)
    return rows


def test_ungrounded_answer_regenerated_once_then_rules_fallback(insights_wh, fake_openai):
    fake_openai.script = [(200, ungrounded_answer), (200, ungrounded_answer)]
    result = run_topic("cohorts", RUN_DATE, insights_wh, _llm(fake_openai, "model-reject"))
    assert len(fake_openai.requests) == 2
    retry_prompt = fake_openai.requests[1]["messages"][-1]["content"]
    assert "987654.321" in retry_prompt and "not the value of any metric in its evidence" in retry_prompt
    rows = _assert_fell_back(insights_wh, "cohorts", result, "llm answer rejected twice: ", llm_rows=1)
    (llm,) = [r for r in rows if r["generator"] == "llm"]
    assert "987654.321" in llm["rejection_reason"] and "987654.321" in result.fallback_reason
    assert llm["prompt_tokens"] == 2000 and llm["model"] == "model-reject"  # both calls counted
    # a cached rejected answer falls back again without calling the API
    again = run_topic("cohorts", RUN_DATE, insights_wh, _llm(fake_openai, "model-reject"))
    assert len(fake_openai.requests) == 2 and again.cache_hit
    assert again.fallback_reason == result.fallback_reason

    def key(r):
        return r["rank"], r["generator"], r["status"], r["headline"], r["fallback_reason"]

    assert [key(r) for r in _rows(insights_wh, "cohorts")] == [key(r) for r in rows]


def test_coincidental_number_rejected_then_rules_fallback(insights_wh, fake_openai):
    """A number that is in the context, but is not the value of the metric the insight cites."""
    fake_openai.script = [(200, coincidental_answer), (200, coincidental_answer)]
    result = run_topic("cohorts", RUN_DATE, insights_wh, _llm(fake_openai, "model-coincidence"))
    assert len(fake_openai.requests) == 2
    rows = _assert_fell_back(insights_wh, "cohorts", result, "llm answer rejected twice", llm_rows=1)
    (llm,) = [r for r in rows if r["generator"] == "llm"]
    assert (
        "retention.month_1.earlier_retained_rate, which the evidence does not cite" in llm["rejection_reason"]
    )


def test_wrong_direction_word_rejected_then_rules_fallback(insights_wh, fake_openai):
    fake_openai.script = [(200, wrong_direction_answer), (200, wrong_direction_answer)]
    result = run_topic("cohorts", RUN_DATE, insights_wh, _llm(fake_openai, "model-direction"))
    rows = _assert_fell_back(insights_wh, "cohorts", result, "llm answer rejected twice", llm_rows=1)
    (llm,) = [r for r in rows if r["generator"] == "llm"]
    assert (
        "says" in llm["rejection_reason"] and "retention.month_1.retained_points" in llm["rejection_reason"]
    )
    # the rules' own month-1 insight states the right direction
    month_1 = next(r for r in rows if r["generator"] == "rules" and "month-1" in r["headline"])
    with psycopg.connect(insights_wh.role_url("transformer")) as conn:
        d = build_context(conn, "cohorts", RUN_DATE)["retention"]["month_1"]["retained_points"]
    assert ("rose" if d > 0 else "fell") in month_1["headline"]


def test_ungrounded_then_grounded_is_published(insights_wh, fake_openai):
    fake_openai.script = [(200, ungrounded_answer)]
    result = run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "model-regen"))
    assert len(fake_openai.requests) == 2 and (result.published, result.rejected) == (1, 0)
    assert result.generator == "llm" and result.fallback_reason is None


def test_malformed_json_retried_then_rules_fallback(insights_wh, fake_openai):
    fake_openai.script = [(200, "this is {not json"), (200, '{"insights": [{"headline": 1}]}')]
    result = run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "model-malformed"))
    assert len(fake_openai.requests) == 2
    _assert_fell_back(insights_wh, "campaigns", result, "malformed JSON twice", llm_rows=0)
    assert result.fallback_reason.startswith("llm generation failed: ")


def test_malformed_once_then_valid(insights_wh, fake_openai):
    fake_openai.script = [(200, "garbage")]
    result = run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "model-malformed-once"))
    assert len(fake_openai.requests) == 2 and result.published == 1 and result.generator == "llm"


def test_truncated_answer_falls_back_with_a_clear_reason(insights_wh, fake_openai):
    fake_openai.finish_reason = "length"
    result = run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "model-length"))
    assert len(fake_openai.requests) == 1
    _assert_fell_back(insights_wh, "campaigns", result, "stopped before a complete answer", llm_rows=0)


def test_429_and_500_are_retried(insights_wh, fake_openai):
    fake_openai.script = [(429, ""), (500, "")]
    result = run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "model-429"))
    assert len(fake_openai.requests) == 3 and result.published == 1


def test_unreachable_endpoint_falls_back_and_key_never_logged(insights_wh, fake_openai, caplog, capfd):
    """A failed LLM run still replaces the night's rows: yesterday's LLM rows never stay in place."""
    caplog.set_level(logging.DEBUG)
    run_topic("campaigns", RUN_DATE, insights_wh, _llm(fake_openai, "model-logs"))
    assert [r["generator"] for r in _rows(insights_wh, "campaigns")] == ["llm"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    settings = LLMSettings(
        api_key=FAKE_KEY, base_url=f"http://127.0.0.1:{dead}/v1", model="m", timeout=2, max_retries=1
    )
    result = run_topic("campaigns", RUN_DATE, insights_wh, settings)
    rows = _assert_fell_back(insights_wh, "campaigns", result, "unreachable", llm_rows=0)
    assert result.status == "ok" and result.published == len(rows)
    out, errs = capfd.readouterr()
    assert FAKE_KEY not in result.fallback_reason and FAKE_KEY not in repr(settings)
    assert FAKE_KEY not in caplog.text and FAKE_KEY not in out + errs
    assert all(FAKE_KEY not in str(v) for r in rows for v in r.values())
    assert "falling back to the rule-based generator" in caplog.text  # logs were actually captured


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


def test_rules_present_money_in_the_shops_currency_ratios_and_driver_features(ml_tables):
    with psycopg.connect(ml_tables.role_url("transformer")) as conn:
        contexts = {t: build_context(conn, t, RUN_DATE) for t in ("campaigns", "customers", "demand")}
    currency = contexts["campaigns"]["currency"]
    assert {c["currency"] for c in contexts.values()} == {currency}
    symbol = rules.CURRENCY_SYMBOLS.get(currency)
    for topic, ctx in contexts.items():
        for ins in rules.generate(topic, ctx).insights:
            assert check_insight(ins, ctx) == [], (topic, ins)
            for amount in re.findall(r"[$€£]?\d[\d,]*\.\d\d(?: [A-Z]{3})?", ins.observation):
                if amount[0] in "$€£" or amount.endswith(currency):
                    assert amount.startswith(symbol) if symbol else amount.endswith(f" {currency}"), amount
    ltv = rules.generate("customers", contexts["customers"]).insights[-1]
    assert "predicted LTV" in ltv.observation and (symbol or currency) in ltv.observation
    campaigns = rules.generate("campaigns", contexts["campaigns"]).insights
    roas = [i for i in campaigns if "ROAS" in i.headline]
    for ins in roas:  # ROAS with 2 decimals
        assert re.search(r"went from \d+\.\d{2} to \d+\.\d{2}[,.]", ins.observation), ins.observation
    # churn drivers grouped by feature: one entry per feature, with the band's customers
    bands = contexts["customers"]["churn_risk"]["bands"]
    for band in bands.values():
        features = [d["feature"] for d in band["top_drivers"]]
        assert len(features) == len(set(features)) and features, band
        assert not [f for f in features if ":" in f or "risk)" in f or f.startswith("Not ")], features
        by_feature = {d["feature"]: d["customers"] for d in band["top_drivers"]}
        # every synthetic customer has "Days since last order" and a paid-social driver (or its negation)
        assert by_feature["Days since last order"] == band["customers"]
        assert by_feature["Acquired via paid social"] == band["customers"]
    churn = rules.generate("customers", contexts["customers"]).insights[0]
    top = max(bands.values(), key=lambda b: b["avg_churn_probability"])
    assert f"Days since last order ({top['customers']:,} customers)" in churn.observation


def test_published_rows_rank_by_priority_then_generator_order():
    def row(priority: str, status: str = "published", headline: str = "") -> store.InsightRow:
        return store.InsightRow(
            rank=0, headline=headline, observation="o", recommendation="r", priority=priority,
            evidence=[], generator="rules", model=None, prompt_version="v", context_hash="h", status=status,
        )  # fmt: skip

    rows = [
        row("low", headline="a"), row("high", "rejected", "b"), row("medium", headline="c"),
        row("high", headline="d"), row("low", headline="e"), row("high", headline="f"),
    ]  # fmt: skip
    ranked = rank_rows(rows)
    assert [(r.rank, r.headline) for r in ranked] == [
        (1, "d"),
        (2, "f"),
        (3, "c"),
        (4, "a"),
        (5, "e"),
        (6, "b"),
    ]
