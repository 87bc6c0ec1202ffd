"""LLM answer cache in `insights.llm_cache`, keyed on (topic, prompt_version, context_hash, model):
a re-run over an unchanged context reuses the graded outcome and makes no API call."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

CACHE_DDL = """
create table if not exists insights.llm_cache (
    topic text not null,
    prompt_version text not null,
    context_hash text not null,
    model text not null,
    outcome jsonb not null,
    prompt_tokens integer not null,
    completion_tokens integer not null,
    cost_usd numeric(12, 8),
    created_at timestamptz not null default now(),
    primary key (topic, prompt_version, context_hash, model)
)
"""


def context_hash(context: dict[str, Any]) -> str:
    """Stable hash of the context as sent (keys sorted, compact)."""
    payload = json.dumps(context, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def lookup(
    conn: psycopg.Connection, topic: str, prompt_version: str, ctx_hash: str, model: str
) -> dict[str, Any] | None:
    row = conn.execute(
        "select outcome from insights.llm_cache "
        "where topic = %s and prompt_version = %s and context_hash = %s and model = %s",
        (topic, prompt_version, ctx_hash, model),
    ).fetchone()
    return row[0] if row else None


def save(
    conn: psycopg.Connection,
    topic: str,
    prompt_version: str,
    ctx_hash: str,
    model: str,
    outcome: dict[str, Any],
    prompt_tokens: int,
    completion_tokens: int,
    cost_usd: float | None,
) -> None:
    conn.execute(
        """
        insert into insights.llm_cache
            (topic, prompt_version, context_hash, model, outcome, prompt_tokens, completion_tokens, cost_usd)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (topic, prompt_version, context_hash, model) do update
            set outcome = excluded.outcome, prompt_tokens = excluded.prompt_tokens,
                completion_tokens = excluded.completion_tokens, cost_usd = excluded.cost_usd,
                created_at = now()
        """,
        (topic, prompt_version, ctx_hash, model, Jsonb(outcome), prompt_tokens, completion_tokens, cost_usd),
    )
