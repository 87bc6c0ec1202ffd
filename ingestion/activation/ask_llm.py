"""The LLM path of `journey segments ask`: an OpenAI-compatible model drafts {name, label, description,
sql} through structured outputs (`chat.completions.parse`, as ml/insights/llm.py does).

What is sent: the system instructions, the reporter's catalog (schema.table, column names, types and
their dbt descriptions) and the question. Never a customer row, a count or any value read from a
table: the model sees the shape of the warehouse, not its contents. What comes back is untrusted: its
SQL must pass `sql_guard.validate_segment_sql`; when it does not, the model is asked once more with
the guard's reason, then the request is refused.
"""

from __future__ import annotations

import json
import logging

import pydantic

from ingestion.activation.ask import SegmentRequestRefused
from ingestion.activation.sql_guard import Catalog, UnsafeSegmentSQL, validate_segment_sql
from ml.insights.llm import LLMSettings, sdk_failure, sdk_failures

log = logging.getLogger(__name__)

PROMPT_VERSION = "segments-ask-1"
SYSTEM_PROMPT = """You write customer segments for a Postgres warehouse.
A segment is ONE read-only SELECT statement that returns one row per member with a column named
customer_id. Use only the tables and columns listed in the catalog, always schema-qualified
(marts.<table>, ml.<table>). No other schemas, no DML or DDL, no functions beyond plain scalar,
aggregate and window functions, no parameters, no trailing semicolon. For ml.churn_scores and
ml.ltv_predictions use the latest snapshot (snapshot_date = (select max(snapshot_date) from <table>)).
Never select contact details: a segment is a list of customer ids.
Answer with: name (lowercase snake_case, at most 40 characters, starting with a letter), label (a few
words for people), description (one sentence saying who is in it and why), sql."""


class SegmentDraft(pydantic.BaseModel):
    """The model's answer (the structured-output schema)."""

    name: str
    label: str
    description: str
    sql: str


class SegmentGenerationError(RuntimeError):
    """The endpoint was unreachable or kept answering something that is not a segment draft."""


def catalog_text(catalog: Catalog) -> str:
    """The catalog as the prompt shows it: one block per table, one line per column."""
    blocks = []
    for table in sorted(catalog.tables):
        head = f"{table}: {catalog.table_descriptions.get(table, '')}".rstrip(": ")
        lines = [head]
        for column, description in catalog.tables[table].items():
            kind = catalog.types.get(table, {}).get(column, "")
            lines.append(
                f"  - {column}" + (f" ({kind})" if kind else "") + (f": {description}" if description else "")
            )
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def build_messages(question: str, catalog: Catalog) -> list[dict[str, str]]:
    """The request: instructions, catalog, question. Nothing read from a table's rows."""
    user = (
        f"Catalog (tables and columns the segment may read):\n{catalog_text(catalog)}\n\nQuestion: {question}"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _complete(client, settings: LLMSettings, messages: list[dict[str, str]]) -> SegmentDraft | None:
    try:
        completion = client.chat.completions.parse(
            model=settings.model, messages=messages, response_format=SegmentDraft, temperature=0
        )
    except (pydantic.ValidationError, json.JSONDecodeError) as exc:
        log.warning("malformed segment draft from %s: %s", client.base_url, type(exc).__name__)
        return None
    except sdk_failures() as exc:
        raise SegmentGenerationError(sdk_failure(exc, str(client.base_url), settings)) from exc
    return completion.choices[0].message.parsed if completion.choices else None


def draft_segment(question: str, catalog: Catalog, settings: LLMSettings) -> SegmentDraft:
    """A draft whose SQL passed the guard (its `sql` is the guard's normalized SQL), or
    `SegmentRequestRefused` after a second refused or malformed answer. The caller has already screened
    the question for SQL and contact-detail requests."""
    if not settings.api_key:
        raise SegmentGenerationError("no OPENAI_API_KEY: use the rule-based parser")
    import openai  # here, not at module level: the CLI and code location load without the SDK

    client = openai.OpenAI(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )
    messages = build_messages(question, catalog)
    reason = ""
    for attempt in (1, 2):
        draft = _complete(client, settings, messages)
        if draft is None:
            reason = "the answer was not a segment definition (name, label, description, sql)"
            messages = [
                *messages,
                {"role": "user", "content": f"{reason}. Answer again with all four fields."},
            ]
            continue
        try:
            return draft.model_copy(update={"sql": validate_segment_sql(draft.sql, catalog)})
        except UnsafeSegmentSQL as exc:
            reason = exc.reason
            log.info("segment draft refused by the guard (attempt %d): %s", attempt, reason)
            messages = [
                *messages,
                {"role": "assistant", "content": draft.model_dump_json()},
                {
                    "role": "user",
                    "content": f"The SQL was refused: {reason}. Write it again following the rules, "
                    "using only the catalog's tables and columns.",
                },
            ]
    raise SegmentRequestRefused(f"the LLM's SQL was refused twice by the guard: {reason}")
