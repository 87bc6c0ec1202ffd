"""Words -> a segment: `journey segments ask "customers in Texas who haven't ordered in 90 days"`.

Two generators share one contract. The offline rule-based parser (`ask_parser.parse_question`)
recognizes a fixed set of phrasings and `ask_sql.spec_to_sql` compiles them; with an LLM configured,
`ask_llm` drafts the SQL from the catalog instead. Whatever drafted it, the SQL passes
`sql_guard.validate_segment_sql` against the reporter's catalog before anyone sees a size or a file.
`propose` runs the refusal rules (`ask_parser.screen_request`) first, on both paths.

The parser's names and `spec_to_sql` are re-exported here, so importers keep using this module.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ingestion.activation.ask_parser import (
    FILLER,
    UNDERSTOOD_FORMS,
    Filter,
    SegmentRequestRefused,
    SegmentSpec,
    describe,
    parse_question,
    screen_request,
)
from ingestion.activation.ask_sql import label_and_description, spec_to_sql
from ingestion.activation.segments import NAME_RE, SegmentDefinition
from ingestion.activation.sql_guard import (
    Catalog,
    UnsafeSegmentSQL,
    catalog_from_warehouse,
    segment_size,
    validate_segment_sql,
)

if TYPE_CHECKING:
    import psycopg

    from ml.insights.llm import LLMSettings

__all__ = [
    "UNDERSTOOD_FORMS",
    "Filter",
    "Proposal",
    "SegmentRequestRefused",
    "SegmentSpec",
    "describe",
    "label_and_description",
    "load_categories",
    "parse_question",
    "propose",
    "screen_request",
    "slug",
    "spec_to_sql",
]


# -- names, labels, the proposal ----------------------------------------------------------------------
_SLUG_SKIP = FILLER | {"haven't", "t", "s", "who", "customers"}


def slug(question: str, limit: int = 40) -> str:
    """A segment name from the question: its meaningful words, cut at a word boundary, plus a short hash
    of the whole question so two long questions with the same start do not collide."""
    words = [w for w in re.findall(r"[a-z0-9]+", question.lower().replace("'", "")) if w not in _SLUG_SKIP]
    digest = hashlib.sha1(" ".join(question.lower().split()).encode()).hexdigest()[:6]
    base = ""
    for w in words:
        candidate = f"{base}_{w}" if base else w
        if len(candidate) > limit - 7:
            break
        base = candidate
    if not base or not base[0].isalpha():
        base = f"segment_{base}".rstrip("_")[: limit - 7].rstrip("_")
    return f"{base}_{digest}"


@dataclass(frozen=True)
class Proposal:
    definition: SegmentDefinition
    sql: str
    size: int | None
    generator: Literal["rules", "llm"]
    spec: SegmentSpec | None = None
    model: str | None = None


def load_categories(conn: psycopg.Connection) -> list[str]:
    """The category values of marts.dim_products (data, not customer data: matched, never sent to an LLM)."""
    with conn.transaction():
        rows = conn.execute(
            "select distinct category from marts.dim_products where category is not null order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def propose(
    question: str,
    conn: psycopg.Connection | None = None,
    llm: LLMSettings | None = None,
    name: str | None = None,
    catalog: Catalog | None = None,
) -> Proposal:
    """A segment definition for `question`: drafted by the LLM when `llm.enabled`, else by the rules.

    With `conn` (opened as the reporter, not inside a transaction) the catalog is read from the
    warehouse, the SQL is validated against it and the segment's size is counted. `catalog` can be
    passed instead for an offline check. The refusal rules run first, on both paths."""
    question = " ".join(question.split())
    screen_request(question)
    if conn is not None and catalog is None:
        catalog = catalog_from_warehouse(conn)
    if name is not None and not NAME_RE.match(name):
        raise SegmentRequestRefused(
            f"the name {name!r} must be lowercase letters, digits and underscores, starting with a letter"
        )
    if llm is not None and llm.enabled:
        from ingestion.activation.ask_llm import draft_segment

        if catalog is None:
            raise SegmentRequestRefused("the LLM path needs the warehouse catalog: connect to the warehouse")
        draft = draft_segment(question, catalog, llm)
        sql, spec, generator = draft.sql, None, "llm"
        chosen = name or (
            draft.name if NAME_RE.match(draft.name or "") and len(draft.name) <= 40 else slug(question)
        )
        label, description = draft.label or chosen, draft.description
    else:
        spec = parse_question(question, load_categories(conn) if conn is not None else None)
        sql, generator = spec_to_sql(spec), "rules"
        chosen = name or slug(question)
        label, description = label_and_description(spec)
    if catalog is not None:
        try:
            normalized = validate_segment_sql(sql, catalog)
        except UnsafeSegmentSQL as exc:
            raise SegmentRequestRefused(f"the segment's SQL does not pass the guard: {exc.reason}") from exc
        # the LLM's SQL is replaced by the guard's regeneration of the checked tree (what runs is what
        # was checked); the rules' SQL is ours, built from typed filters, and kept in the project's
        # lowercase style
        sql = normalized if generator == "llm" else sql
    definition = SegmentDefinition(
        name=chosen, label=label, description=description, sql=sql, question=question
    )
    size = segment_size(conn, sql) if conn is not None else None
    return Proposal(definition, sql, size, generator, spec, llm.model if generator == "llm" and llm else None)
