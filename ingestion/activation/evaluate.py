"""Evaluate the segments of `segments/*.yml` into `activation.segment_snapshots` for one day.

Each definition's SQL is checked by the same guard as the natural-language builder (one read-only
SELECT over the reporter's schemas, known columns only: ingestion/activation/sql_guard.py) and runs
as the `reporter` role in a read-only transaction, so a segment file can neither write nor read raw
PII, whoever wrote it. The members are written as the transformer, per segment in one transaction
that replaces that segment's rows of that day: re-running a night (or resuming after a kill)
rewrites the same rows, never adds to them.

The day is the RFM as-of date of `marts.dim_customers` (the day after the latest order), the date
the marts describe; it does not drift with the wall clock, so a backfilled night snapshots its own day.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import psycopg
import sqlglot
from sqlglot import exp

from ingestion.activation.segments import SegmentDefinition
from ingestion.activation.sql_guard import (
    SEGMENT_SCHEMAS,
    Catalog,
    UnsafeSegmentSQL,
    catalog_from_warehouse,
    validate_segment_sql,
)
from ingestion.warehouse.settings import WarehouseSettings, connect

log = logging.getLogger(__name__)

STATEMENT_TIMEOUT_MS = 120_000
AS_OF_SQL = "select max(rfm_as_of_date) from marts.dim_customers"


class SegmentEvaluationError(RuntimeError):
    """Some segments could not be evaluated; the message names each one and why."""


@dataclass(frozen=True)
class SegmentResult:
    name: str
    as_of_date: date | None
    members: int | None  # None: not evaluated (see `skipped`)
    skipped: str | None = None


def referenced_tables(sql: str) -> set[str]:
    """`schema.table` of every table a segment's SQL reads (CTE names left out): its lineage."""
    tree = sqlglot.parse_one(sql, read="postgres")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {
        f"{t.db}.{t.name}" if t.db else t.name for t in tree.find_all(exp.Table) if t.db or t.name not in ctes
    }


def sql_digest(sql: str) -> str:
    return hashlib.sha256(sql.strip().encode()).hexdigest()[:16]


def missing_tables(sql: str, catalog: Catalog) -> list[str]:
    """Tables of the segment schemas the SQL reads that do not exist yet (e.g. ML scores before the
    first ML run). A table of any other schema is not "missing": the guard refuses it."""
    return sorted(
        t for t in referenced_tables(sql) if t.split(".")[0] in SEGMENT_SCHEMAS and t not in catalog.tables
    )


def as_of_date(conn: psycopg.Connection) -> date | None:
    return conn.execute(AS_OF_SQL).fetchone()[0]


def members_of(conn: psycopg.Connection, checked_sql: str) -> list[int]:
    """Distinct non-null customer ids of a checked SELECT, read-only, with a statement timeout."""
    with conn.transaction():
        conn.execute("set transaction read only")
        conn.execute(f"set local statement_timeout = {STATEMENT_TIMEOUT_MS}")
        rows = conn.execute(
            f"select distinct customer_id from ({checked_sql}) as segment where customer_id is not null"
        ).fetchall()
    return [int(r[0]) for r in rows]


def write_snapshot(
    conn: psycopg.Connection, definition: SegmentDefinition, day: date, members: list[int]
) -> None:
    """Replace the segment's members of `day` and its evaluation row, in one transaction."""
    with conn.transaction():
        conn.execute(
            "delete from activation.segment_snapshots where segment = %s and as_of_date = %s",
            (definition.name, day),
        )
        with conn.cursor().copy(
            "copy activation.segment_snapshots (segment, as_of_date, customer_id) from stdin"
        ) as copy:
            for customer_id in members:
                copy.write_row((definition.name, day, customer_id))
        conn.execute(
            """
            insert into activation.segment_evaluations (segment, as_of_date, members, sql_digest, evaluated_at)
            values (%s, %s, %s, %s, now())
            on conflict (segment, as_of_date) do update
            set members = excluded.members, sql_digest = excluded.sql_digest, evaluated_at = now()
            """,
            (definition.name, day, len(members), sql_digest(definition.sql)),
        )


def evaluate_segments(
    definitions: Iterable[SegmentDefinition], settings: WarehouseSettings | None = None
) -> list[SegmentResult]:
    """Evaluate every definition for the marts' as-of day. A segment whose tables do not exist yet is
    skipped with the reason; one whose SQL the guard refuses, or that fails, is an error: the others
    are still written, then `SegmentEvaluationError` names every failed one."""
    settings = settings or WarehouseSettings.from_env()
    results: list[SegmentResult] = []
    errors: list[str] = []
    # autocommit: each `transaction()` below is then a real transaction (not a savepoint), so the
    # reader's can be declared read only
    with (
        connect("reporter", settings, autocommit=True) as reader,
        connect("transformer", settings, autocommit=True) as writer,
    ):
        catalog = catalog_from_warehouse(reader)
        day = as_of_date(reader)
        if day is None:
            return [
                SegmentResult(d.name, None, None, "no orders in marts.dim_customers yet") for d in definitions
            ]
        for definition in definitions:
            absent = missing_tables(definition.sql, catalog)
            if absent:
                reason = f"{', '.join(absent)} not built yet"
                log.warning("segment %s skipped: %s", definition.name, reason)
                results.append(SegmentResult(definition.name, day, None, reason))
                continue
            try:
                checked = validate_segment_sql(definition.sql, catalog)
                members = members_of(reader, checked)
            except UnsafeSegmentSQL as exc:
                errors.append(f"{definition.name} ({definition.path}): refused: {exc}")
                continue
            except psycopg.Error as exc:
                errors.append(f"{definition.name} ({definition.path}): failed in Postgres: {exc}".strip())
                continue
            write_snapshot(writer, definition, day, members)
            results.append(SegmentResult(definition.name, day, len(members)))
    if errors:
        raise SegmentEvaluationError(
            f"{len(errors)} of {len(results) + len(errors)} segments could not be evaluated "
            f"(the others were written for {day}):\n  " + "\n  ".join(errors)
        )
    return results
