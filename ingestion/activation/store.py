"""The `activation` schema: what the segment and sync assets write, owned by the transformer role.

- `segment_evaluations`: one row per segment per evaluated day (its size and the SQL's digest), so a
  day on which a segment had no member is still known to have been evaluated;
- `segment_snapshots`: the members of each segment on each evaluated day. dbt reads both (sources
  `activation.*`) and builds `marts.segment_members` (spells: since, until) and
  `marts.fct_segment_sizes_daily`;
- `sync_members`: who each destination holds for each segment as far as we know: a row is written
  in the same transaction that records the vendor's answer for the batch (or the customer) it was
  in, so a sync killed at any point resumes from what the vendor acknowledged and uploads nothing
  twice;
- `sync_runs`: one row per destination × segment × run, with what was planned, what was sent and
  what the vendor answered (Meta's received/invalid counts and audience size bounds). The reporter
  may read this table (no customer in it) for the Activation dashboard; nothing else here.

Customer ids only: emails and phones are read from the raw schema and hashed in memory at sync time,
never stored here.
"""

from __future__ import annotations

import psycopg

SCHEMA = "activation"
DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""
    create table if not exists {SCHEMA}.segment_evaluations (
        segment text not null,
        as_of_date date not null,
        members bigint not null,
        sql_digest text not null,
        evaluated_at timestamptz not null default now(),
        primary key (segment, as_of_date)
    )
    """,
    f"""
    create table if not exists {SCHEMA}.segment_snapshots (
        segment text not null,
        as_of_date date not null,
        customer_id bigint not null,
        primary key (segment, as_of_date, customer_id)
    )
    """,
    f"""
    create table if not exists {SCHEMA}.sync_members (
        destination text not null,
        segment text not null,
        customer_id bigint not null,
        synced_at timestamptz not null default now(),
        primary key (destination, segment, customer_id)
    )
    """,
    f"""
    create table if not exists {SCHEMA}.sync_runs (
        run_id text not null,
        destination text not null,
        segment text not null,
        started_at timestamptz not null default now(),
        finished_at timestamptz,
        status text not null check (status in ('running', 'succeeded', 'failed', 'interrupted', 'dry_run')),
        as_of_date date,
        members bigint,
        eligible bigint,
        without_consent bigint,
        without_match_keys bigint,
        planned_adds bigint,
        planned_removes bigint,
        adds bigint not null default 0,
        removes bigint not null default 0,
        audience_id text,
        num_received bigint,
        num_invalid_entries bigint,
        matched_lower_bound bigint,
        matched_upper_bound bigint,
        match_rate double precision,
        error text,
        primary key (run_id, destination, segment)
    )
    """,
)
TABLES = ("segment_evaluations", "segment_snapshots", "sync_members", "sync_runs")
REPORTER_TABLES = ("sync_runs",)


def ensure_activation_tables(conn: psycopg.Connection, reporter: str | None = None) -> None:
    """Create the schema's tables when missing (idempotent); `reporter` (a role name) may then read
    `sync_runs`. Run as the transformer, the owner."""
    for statement in DDL:
        conn.execute(statement)
    if reporter:
        conn.execute(f'grant usage on schema {SCHEMA} to "{reporter}"')
        for table in REPORTER_TABLES:
            conn.execute(f'grant select on {SCHEMA}.{table} to "{reporter}"')
