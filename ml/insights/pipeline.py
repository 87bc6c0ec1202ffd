"""One topic, end to end: context (SQL aggregates) -> cache or generation (LLM or rules) -> grounding
(one regeneration with the reasons) -> `insights.llm_insights`.

`run_topic` is what the Dagster asset calls; it never fails because ML tables are missing (the
context says "no data" and the topic stores one `no_data` row with the reason), but it fails loudly when the LLM endpoint is
unreachable or keeps answering malformed JSON.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ingestion.warehouse import WarehouseSettings, connect
from ml.insights import cache, rules, store
from ml.insights.cost import estimate_cost
from ml.insights.grounding import check_insight
from ml.insights.llm import LLMClient, LLMSettings
from ml.insights.prompts import PROMPT_VERSION, SYSTEM_PROMPT, regeneration_message, user_message
from ml.insights.schema import Insight, InsightList
from ml.insights.topics import TOPICS

log = logging.getLogger(__name__)


@dataclass
class TopicResult:
    topic: str
    run_date: dt.date
    status: str  # context status: "ok" | "no data"
    generator: str | None = None  # "llm" | "rules"; None when no data
    model: str | None = None
    published: int = 0
    rejected: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cache_hit: bool = False
    requests: int = 0
    reason: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


def build_context(conn: psycopg.Connection, topic: str, run_date: dt.date) -> dict[str, Any]:
    """The topic's context as sent to the model (run_date removed: unchanged data keeps its cache key)."""
    ctx = TOPICS[topic](conn, run_date)
    return {k: v for k, v in ctx.items() if k != "run_date"}


def _grade(insights: list[Insight], context: dict[str, Any]) -> list[tuple[Insight, list[str]]]:
    return [(i, check_insight(i, context)) for i in insights]


def _generate_llm(
    client: LLMClient, topic: str, context: dict[str, Any]
) -> tuple[list[tuple[Insight, list[str]]], int, int, int]:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(topic, context)},
    ]
    gen = client.generate(messages)
    pt, ct, req = gen.prompt_tokens, gen.completion_tokens, gen.requests
    graded = _grade(gen.insights.insights, context)
    reasons = [p for _, problems in graded for p in problems]
    if reasons:
        log.info("%s: %d grounding problems, regenerating once", topic, len(reasons))
        messages += [
            {"role": "assistant", "content": gen.insights.model_dump_json()},
            {"role": "user", "content": regeneration_message(reasons)},
        ]
        gen = client.generate(messages)
        pt, ct, req = pt + gen.prompt_tokens, ct + gen.completion_tokens, req + gen.requests
        graded = _grade(gen.insights.insights, context)
    return graded, pt, ct, req


def _split(total: int, n: int, i: int) -> int:
    """Share of a topic-level total on row i of n, so row sums equal the total."""
    return total // n + (1 if i < total % n else 0)


def run_topic(
    topic: str, run_date: dt.date, settings: WarehouseSettings, llm: LLMSettings | None = None
) -> TopicResult:
    """Build, generate, ground and store one topic for `run_date` (as the transformer role)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown insight topic {topic!r}; expected one of {sorted(TOPICS)}")
    llm = llm or LLMSettings()
    with connect("transformer", settings, autocommit=True) as conn:
        store.ensure_tables(conn)
        context = build_context(conn, topic, run_date)
        result = TopicResult(topic=topic, run_date=run_date, status=context["status"], context=context)
        if context["status"] != "ok":
            result.reason = context.get("reason") or "no data"
            row = store.no_data_row(topic, result.reason, cache.context_hash(context), PROMPT_VERSION)
            store.replace_topic(conn, run_date, topic, [row])
            return result
        ctx_hash = cache.context_hash(context)
        if llm.enabled:
            result.generator, result.model = "llm", llm.model
            outcome = cache.lookup(conn, topic, PROMPT_VERSION, ctx_hash, llm.model)
            if outcome is not None:
                result.cache_hit = True
                graded = [(Insight.model_validate(o["insight"]), o["problems"]) for o in outcome["graded"]]
            else:
                graded, pt, ct, req = _generate_llm(LLMClient(llm), topic, context)
                result.prompt_tokens, result.completion_tokens, result.requests = pt, ct, req
                result.cost_usd = estimate_cost(llm.model, pt, ct)
                outcome = {"graded": [{"insight": i.model_dump(), "problems": p} for i, p in graded]}
                cache.save(conn, topic, PROMPT_VERSION, ctx_hash, llm.model, outcome, pt, ct, result.cost_usd)
        else:
            result.generator = "rules"
            graded = _grade(rules.generate(topic, context).insights, context)
        rows = []
        n = len(graded)
        for i, (ins, problems) in enumerate(graded):
            cost = result.cost_usd / n if result.cost_usd is not None and n else result.cost_usd
            rows.append(
                store.InsightRow(
                    rank=i + 1,
                    headline=ins.headline,
                    observation=ins.observation,
                    recommendation=ins.recommendation,
                    priority=ins.priority,
                    evidence=[e.model_dump() for e in ins.evidence],
                    generator=result.generator,
                    model=result.model,
                    prompt_version=PROMPT_VERSION,
                    context_hash=ctx_hash,
                    status="rejected" if problems else "published",
                    rejection_reason="; ".join(problems) if problems else None,
                    prompt_tokens=_split(result.prompt_tokens, n, i),
                    completion_tokens=_split(result.completion_tokens, n, i),
                    cost_usd=cost,
                    cache_hit=result.cache_hit,
                )
            )
        result.published = sum(r.status == "published" for r in rows)
        result.rejected = len(rows) - result.published
        store.replace_topic(conn, run_date, topic, rows)
    return result


__all__ = ["InsightList", "TopicResult", "build_context", "run_topic"]
