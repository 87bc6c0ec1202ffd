"""`insights.llm_insights`: one row per insight, idempotent per (run_date, topic).

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
    status text not null check (status in ('published', 'rejected')),
    rejection_reason text,
    prompt_tokens integer not null default 0,
    completion_tokens integer not null default 0,
    cost_usd numeric(12, 8),
    cache_hit boolean not null default false,
    created_at timestamptz not null default now(),
    primary key (run_date, topic, rank)
)
"""

COLUMNS = (
    "run_date", "topic", "rank", "headline", "observation", "recommendation", "priority", "evidence",
    "generator", "model", "prompt_version", "context_hash", "status", "rejection_reason", "prompt_tokens",
    "completion_tokens", "cost_usd", "cache_hit",
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


def ensure_tables(conn: psycopg.Connection) -> None:
    from ml.insights.cache import CACHE_DDL

    conn.execute(DDL)
    conn.execute(CACHE_DDL)


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
                ),
            )  # fmt: skip
