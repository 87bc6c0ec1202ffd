"""The warehouse contract of DESIGN.md: schemas and least-privilege roles, created idempotently.

- `journey_loader` owns the raw schemas (dlt writes there);
- `journey_transformer` reads raw, owns staging/intermediate/marts (dbt) and ml/insights (Python assets);
- `reporter` (Metabase) may read marts, ml and insights only: never raw data, never staging (hashed PII);
  of the `activation` schema (segment snapshots and sync state, ingestion/activation/store.py) it
  reads only `sync_runs`, which holds counts and no customer.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ingestion.warehouse.passwords import ensure_login_password
from ingestion.warehouse.pii import ensure_pii_key
from ingestion.warehouse.settings import ROLE_USERS, WarehouseSettings, connect

RAW_SCHEMAS = ("shopify", "order_history", "meta_ads", "google_ads", "ga4", "events")
TRANSFORM_SCHEMAS = ("staging", "intermediate", "marts")
PYTHON_SCHEMAS = ("ml", "insights", "activation")
SCHEMAS = RAW_SCHEMAS + TRANSFORM_SCHEMAS + PYTHON_SCHEMAS
REPORTER_SCHEMAS = ("marts", "ml", "insights")
ROLES = {k: v for k, v in ROLE_USERS.items() if k != "admin"}


def _ensure_role(conn: psycopg.Connection, name: str, password: str | None) -> None:
    """The role exists, may log in and has `password` (None: a `WAREHOUSE_<ROLE>_URL` without one,
    authenticated some other way, so its password is left alone). Writes nothing when all holds
    already: every Dagster step runs this, and concurrent `alter role`s of one role fail."""
    row = conn.execute("select rolcanlogin from pg_roles where rolname = %s", (name,)).fetchone()
    if row is None:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(name)))
    elif not row[0]:
        conn.execute(sql.SQL("alter role {} login").format(sql.Identifier(name)))
    if password:
        ensure_login_password(conn, name, password)


def init_warehouse(settings: WarehouseSettings | None = None) -> list[str]:
    """Create schemas, roles and grants. Returns a short log of what it ensured; safe to re-run."""
    settings = settings or WarehouseSettings.from_env()
    loader, transformer, reporter = ROLES["loader"], ROLES["transformer"], ROLES["reporter"]
    ident = sql.Identifier
    done: list[str] = []
    # each role's own password: the embedded server's generated one, or on an external warehouse
    # JOURNEY_LOADER_PASSWORD / JOURNEY_TRANSFORMER_PASSWORD / REPORTER_PASSWORD (a missing one raises,
    # naming the variable, before anything is touched)
    passwords = {key: settings.role_password(key) for key in ROLES}
    with connect("admin", settings, autocommit=True) as conn:
        db = conn.execute("select current_database()").fetchone()[0]
        # one init at a time (per database; enough, as a steady-state run writes no role: _ensure_role)
        conn.execute("select pg_advisory_lock(hashtext('journey.roles'))")
        try:
            for key, role in ROLES.items():
                _ensure_role(conn, role, passwords[key])
        finally:
            conn.execute("select pg_advisory_unlock(hashtext('journey.roles'))")
        conn.execute(
            sql.SQL("grant connect on database {} to {}, {}, {}").format(
                ident(db), ident(loader), ident(transformer), ident(reporter)
            )
        )
        # dlt creates its staging datasets and dbt its schemas on demand: they may create schemas.
        conn.execute(
            sql.SQL("grant create on database {} to {}, {}").format(
                ident(db), ident(loader), ident(transformer)
            )
        )
        conn.execute(sql.SQL("revoke all on schema public from public"))
        for schema in RAW_SCHEMAS:
            conn.execute(
                sql.SQL("create schema if not exists {} authorization {}").format(
                    ident(schema), ident(loader)
                )
            )
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(ident(schema), ident(transformer)))
            conn.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(
                    ident(schema), ident(transformer)
                )
            )
            conn.execute(
                sql.SQL(
                    "alter default privileges for role {} in schema {} grant select on tables to {}"
                ).format(ident(loader), ident(schema), ident(transformer))
            )
            conn.execute(sql.SQL("revoke all on schema {} from {}").format(ident(schema), ident(reporter)))
        for schema in TRANSFORM_SCHEMAS + PYTHON_SCHEMAS:
            conn.execute(
                sql.SQL("create schema if not exists {} authorization {}").format(
                    ident(schema), ident(transformer)
                )
            )
        for schema in REPORTER_SCHEMAS:
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(ident(schema), ident(reporter)))
            conn.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(
                    ident(schema), ident(reporter)
                )
            )
            conn.execute(
                sql.SQL(
                    "alter default privileges for role {} in schema {} grant select on tables to {}"
                ).format(ident(transformer), ident(schema), ident(reporter))
            )
        done.append(f"schemas: {', '.join(SCHEMAS)}")
        done.append(
            f"roles: {loader} (raw), {transformer} (dbt, ml, insights), {reporter} (read-only marts/ml/insights)"
        )
    done.append(ensure_pii_key(settings))  # the dbt hash key: ingestion/warehouse/pii.py
    done.append(_ensure_activation(settings, reporter))
    return done


def _ensure_activation(settings: WarehouseSettings, reporter: str) -> str:
    """The activation tables (dbt reads two of them as sources, so they exist before the first
    segment run, like the raw contract). Created by their owner, the transformer, once: a steady-state
    run only looks (every Dagster step runs init_warehouse; concurrent DDL of one table fails)."""
    from ingestion.activation.store import SCHEMA, TABLES, ensure_activation_tables

    tables = [f"{SCHEMA}.{name}" for name in TABLES]
    with connect("transformer", settings, autocommit=True) as conn:
        present = conn.execute(
            "select count(to_regclass(t)) from unnest(%s::text[]) as t", (tables,)
        ).fetchone()[0]
        if present < len(tables):
            conn.execute("select pg_advisory_lock(hashtext('journey.activation'))")
            try:
                ensure_activation_tables(conn, reporter)
            finally:
                conn.execute("select pg_advisory_unlock(hashtext('journey.activation'))")
    return f"activation tables: {', '.join(tables)}"
