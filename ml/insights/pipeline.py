"""One topic, end to end: context (SQL aggregates) -> cache or generation (LLM or rules) -> grounding
(one regeneration with the reasons) -> rules fallback -> `insights.llm_insights`.

`run_topic` is what the Dagster asset calls; it never fails because ML tables are missing (the
context says "no data" and the topic stores one `no_data` row with the reason) nor because the LLM
failed: an answer still ungrounded after one regeneration, an unreachable endpoint or malformed JSON
twice make the topic fall back to the rule-based generator, labelled with `fallback_reason`.
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
from ml.insights.llm import InsightGenerationError, LLMClient, LLMSettings
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
    fallback_reason: str | None = None  # why the LLM's answer was replaced by the rules' (None: it was not)
    context: dict[str, Any] = field(default_factory=dict)
    rows: list[store.InsightRow] = field(default_factory=list)  # as stored, ranked

    @property
    def published_rows(self) -> list[store.InsightRow]:
        return [r for r in self.rows if r.status == "published"]


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


PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}
SUPERSEDED = "superseded: the topic fell back to the rule-based generator"


def _llm_outcome(
    conn: psycopg.Connection,
    llm: LLMSettings,
    topic: str,
    context: dict[str, Any],
    ctx_hash: str,
    result: TopicResult,
) -> tuple[list[tuple[Insight, list[str]]], str | None]:
    """The LLM's graded insights (cached or generated) and why the topic must fall back, if it must."""
    outcome = cache.lookup(conn, topic, PROMPT_VERSION, ctx_hash, llm.model)
    if outcome is not None:
        result.cache_hit = True
        # graded again: the answer is cached, the verdict follows the grounding rules of today
        graded = _grade([Insight.model_validate(o["insight"]) for o in outcome["graded"]], context)
    else:
        try:
            graded, pt, ct, req = _generate_llm(LLMClient(llm), topic, context)
        except InsightGenerationError as exc:
            return [], f"llm generation failed: {exc}"
        result.prompt_tokens, result.completion_tokens, result.requests = pt, ct, req
        result.cost_usd = estimate_cost(llm.model, pt, ct)
        outcome = {"graded": [{"insight": i.model_dump(), "problems": p} for i, p in graded]}
        cache.save(conn, topic, PROMPT_VERSION, ctx_hash, llm.model, outcome, pt, ct, result.cost_usd)
    problems = [p for _, ps in graded for p in ps]
    if problems:
        return graded, "llm answer rejected twice: " + "; ".join(problems)
    if not graded:
        return graded, "llm answer held no insight"
    return graded, None


def _rows(
    graded: list[tuple[Insight, list[str]]],
    generator: str,
    model: str | None,
    ctx_hash: str,
    result: TopicResult,
    *,
    fallback_reason: str | None = None,
    superseded: bool = False,
) -> list[store.InsightRow]:
    """Unranked rows; an LLM answer carries the topic's tokens and cost, split over its rows."""
    n = len(graded)
    llm = generator == "llm"
    rows = []
    for i, (ins, problems) in enumerate(graded):
        cost = result.cost_usd / n if llm and result.cost_usd is not None and n else None
        reason = "; ".join(problems) if problems else (SUPERSEDED if superseded else None)
        rows.append(
            store.InsightRow(
                rank=0,
                headline=ins.headline,
                observation=ins.observation,
                recommendation=ins.recommendation,
                priority=ins.priority,
                evidence=[e.model_dump() for e in ins.evidence],
                generator=generator,
                model=model,
                prompt_version=PROMPT_VERSION,
                context_hash=ctx_hash,
                status="rejected" if reason else "published",
                rejection_reason=reason,
                prompt_tokens=_split(result.prompt_tokens, n, i) if llm else 0,
                completion_tokens=_split(result.completion_tokens, n, i) if llm else 0,
                cost_usd=cost,
                cache_hit=result.cache_hit and llm,
                fallback_reason=fallback_reason,
            )
        )
    return rows


def rank_rows(rows: list[store.InsightRow]) -> list[store.InsightRow]:
    """Published rows by priority (high, medium, low; then the generator's order), rejected ones after."""
    published = sorted((r for r in rows if r.status == "published"), key=lambda r: PRIORITY_ORDER[r.priority])
    ordered = published + [r for r in rows if r.status != "published"]
    for i, r in enumerate(ordered):
        r.rank = i + 1
    return ordered


def run_topic(
    topic: str, run_date: dt.date, settings: WarehouseSettings, llm: LLMSettings | None = None
) -> TopicResult:
    """Build, generate, ground and store one topic for `run_date` (as the transformer role).

    The night's rows always replace the previous ones of (run_date, topic), whatever happened: an LLM
    answer still rejected after its regeneration, or an LLM that failed (unreachable, malformed twice,
    truncated), falls back to the rule-based generator for this topic (`fallback_reason` says why), and
    the LLM's rows are kept as `rejected` for audit.
    """
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
            result.rows = [row]
            return result
        ctx_hash = cache.context_hash(context)
        rows: list[store.InsightRow] = []
        fallback = None
        if llm.enabled:
            result.generator, result.model = "llm", llm.model
            graded, fallback = _llm_outcome(conn, llm, topic, context, ctx_hash, result)
            rows = _rows(graded, "llm", llm.model, ctx_hash, result, superseded=fallback is not None)
        if not llm.enabled or fallback is not None:
            if fallback is not None:
                log.warning("%s %s: falling back to the rule-based generator: %s", topic, run_date, fallback)
            result.generator, result.model, result.fallback_reason = "rules", None, fallback
            rules_graded = _grade(rules.generate(topic, context).insights, context)
            rows += _rows(rules_graded, "rules", None, ctx_hash, result, fallback_reason=fallback)
        rows = rank_rows(rows)
        result.rows = rows
        result.published = sum(r.status == "published" for r in rows)
        result.rejected = len(rows) - result.published
        store.replace_topic(conn, run_date, topic, rows)
    return result


__all__ = ["InsightList", "TopicResult", "build_context", "rank_rows", "run_topic"]
