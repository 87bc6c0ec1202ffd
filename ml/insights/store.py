"""`insights.llm_insights`: one row per insight, idempotent per (run_date, topic). A topic without data
for a run date gets one row of its own (`status = 'no_data'`, rank 0, the reason as its observation),
so an analyst sees that the topic ran and why it said nothing; dashboards read `status = 'published'`.
Rows of the rule-based generator that replaced a failed LLM answer carry `fallback_reason`; the LLM's
rows of that night stay as `status = 'rejected'` for audit.

Created by the transformer role in schema `insights`, so the warehouse contract's default privileges
grant SELECT to the read-only `reporter` (Metabase) without an explicit grant here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

DDL = """
create table if not exists insights.llm_insights (
    run_date date not null,
    topic text not null,
    rank integer not null,
    headline text not null,
    observation text not null,
    recommendation text not null,
    priority text not null check (priority in ('high', 'medium', 'low')),
    evidence jsonb not null,
    generator text not null check (generator in ('llm', 'rules')),
    model text,
    prompt_version text not null,
    context_hash text not null,
    status text not null check (status in ('published', 'rejected', 'no_data')),
    rejection_reason text,
    prompt_tokens integer not null default 0,
    completion_tokens integer not null default 0,
    cost_usd numeric(12, 8),
    cache_hit boolean not null default false,
    fallback_reason text,
    created_at timestamptz not null default now(),
    primary key (run_date, topic, rank)
)
"""

COLUMNS = (
    "run_date", "topic", "rank", "headline", "observation", "recommendation", "priority", "evidence",
    "generator", "model", "prompt_version", "context_hash", "status", "rejection_reason", "prompt_tokens",
    "completion_tokens", "cost_usd", "cache_hit", "fallback_reason",
)  # fmt: skip


@dataclass
class InsightRow:
    rank: int
    headline: str
    observation: str
    recommendation: str
    priority: str
    evidence: list[dict[str, Any]]
    generator: str
    model: str | None
    prompt_version: str
    context_hash: str
    status: str
    rejection_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cache_hit: bool = False
    fallback_reason: str | None = None  # set on the rules' rows that replaced a failed LLM answer


STATUS_CHECK = "llm_insights_status_check"


def ensure_tables(conn: psycopg.Connection) -> None:
    from ml.insights.cache import CACHE_DDL

    conn.execute(DDL)
    conn.execute(CACHE_DDL)
    # tables created before 'no_data' existed: widen the status check (only then: no lock otherwise)
    definition = conn.execute(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = %s "
        "and conrelid = 'insights.llm_insights'::regclass",
        (STATUS_CHECK,),
    ).fetchone()
    if definition is not None and "no_data" not in definition[0]:
        with conn.transaction():
            conn.execute(f"alter table insights.llm_insights drop constraint {STATUS_CHECK}")
            conn.execute(
                f"alter table insights.llm_insights add constraint {STATUS_CHECK} "
                "check (status in ('published', 'rejected', 'no_data'))"
            )
    # tables created before the rules fallback: add its label (only then: no lock otherwise)
    has_fallback = conn.execute(
        "select 1 from information_schema.columns where table_schema = 'insights' "
        "and table_name = 'llm_insights' and column_name = 'fallback_reason'"
    ).fetchone()
    if has_fallback is None:
        conn.execute("alter table insights.llm_insights add column if not exists fallback_reason text")


def no_data_row(topic: str, reason: str, context_hash: str, prompt_version: str) -> InsightRow:
    """The row a topic without data stores for its run date: what was missing, and what would fill it."""
    return InsightRow(
        rank=0,
        headline=f"No {topic} insights: no data for this run date",
        observation=reason,
        recommendation="Nothing to act on; connect or load the source the reason names to get this topic.",
        priority="low",
        evidence=[],
        generator="rules",
        model=None,
        prompt_version=prompt_version,
        context_hash=context_hash,
        status="no_data",
        rejection_reason=None,
    )


def replace_topic(conn: psycopg.Connection, run_date: dt.date, topic: str, rows: list[InsightRow]) -> None:
    """Delete this (run_date, topic) and insert `rows`, in one transaction (re-runs never duplicate)."""
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    with conn.transaction():
        conn.execute(
            "delete from insights.llm_insights where run_date = %s and topic = %s", (run_date, topic)
        )
        for r in rows:
            conn.execute(
                f"insert into insights.llm_insights ({', '.join(COLUMNS)}) values ({placeholders})",
                (
                    run_date, topic, r.rank, r.headline, r.observation, r.recommendation, r.priority,
                    Jsonb(r.evidence), r.generator, r.model, r.prompt_version, r.context_hash, r.status,
                    r.rejection_reason, r.prompt_tokens, r.completion_tokens, r.cost_usd, r.cache_hit,
                    r.fallback_reason,
                ),
            )  # fmt: skip
