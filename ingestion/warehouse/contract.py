"""The warehouse contract of DESIGN.md: schemas and least-privilege roles, created idempotently.

- `journey_loader` owns the raw schemas (dlt writes there);
- `journey_transformer` reads raw, owns staging/intermediate/marts (dbt) and ml/insights (Python assets);
- `reporter` (Metabase) may read marts, ml and insights only: never raw data, never staging (hashed PII).
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql

from ingestion.warehouse.settings import ROLE_USERS, WarehouseSettings, connect

RAW_SCHEMAS = ("shopify", "order_history", "meta_ads", "ga4", "events")
TRANSFORM_SCHEMAS = ("staging", "intermediate", "marts")
PYTHON_SCHEMAS = ("ml", "insights")
SCHEMAS = RAW_SCHEMAS + TRANSFORM_SCHEMAS + PYTHON_SCHEMAS
REPORTER_SCHEMAS = ("marts", "ml", "insights")
ROLES = {k: v for k, v in ROLE_USERS.items() if k != "admin"}


def _ensure_role(conn: psycopg.Connection, name: str, password: str | None) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    verb = "alter" if exists else "create"
    if password:
        conn.execute(
            sql.SQL(verb + " role {} login password {}").format(sql.Identifier(name), sql.Literal(password))
        )
    else:
        conn.execute(sql.SQL(verb + " role {} login").format(sql.Identifier(name)))


def init_warehouse(settings: WarehouseSettings | None = None) -> list[str]:
    """Create schemas, roles and grants. Returns a short log of what it ensured; safe to re-run."""
    settings = settings or WarehouseSettings.from_env()
    loader, transformer, reporter = ROLES["loader"], ROLES["transformer"], ROLES["reporter"]
    ident = sql.Identifier
    done: list[str] = []
    with connect("admin", settings, autocommit=True) as conn:
        db = conn.execute("select current_database()").fetchone()[0]
        for role in ROLES.values():
            env_key = f"{'REPORTER' if role == reporter else role.upper()}_PASSWORD"
            _ensure_role(conn, role, os.environ.get(env_key) or None)
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
    return done
