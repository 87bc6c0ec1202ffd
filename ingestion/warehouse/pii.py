"""The PII hash key, held in the warehouse instead of in dbt's SQL.

dbt staging hashes emails and phones with a salted sha256. When the salt was a dbt var, dbt inlined
it as a literal into every compiled model, every `target/` artifact and every staging view
definition (`pg_views.definition`), so anyone who could read a manifest or the catalog had the salt
and could re-identify hashes by brute force over known emails. Now the salt lives in one row of
`private.pii_key`, and the SQL dbt compiles reads it at query time: compiled models and view
definitions only ever say `private.hash_pii(<value>, (select private.pii_hash_key()))`.

- schema `private` is owned by the transformer (dbt) and closed to everyone else: the reporter and
  the loader have no usage on it, so they can neither read the key nor call the functions;
- the hash is exactly the one the macro computed before, `encode(sha256(convert_to(salt ||
  normalised, 'UTF8')), 'hex')`, so the same salt keeps every existing hash (and customer key) valid;
- the key comes from `PII_HASH_SALT` (default `dev-only-salt`, for the sandbox only) and is written
  by `ensure_pii_key`, which `init_warehouse` runs and the Dagster dbt resource runs before every dbt
  invocation, so a changed `PII_HASH_SALT` is what the next dbt run hashes with. The value is sent as
  a bind parameter, never spliced into a statement (server logs show `$1`).

Changing the salt changes every hash: rebuild with `dbt build --full-refresh` so tables built with
the old salt do not mix with new ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from psycopg import sql

from ingestion.warehouse.settings import ROLE_USERS, WarehouseSettings, connect

SALT_ENV = "PII_HASH_SALT"
# only for the sandbox and tests: a real shop sets its own (docs/architecture.md, Warehouse contract)
DEV_SALT = "dev-only-salt"
SCHEMA = "private"
KEY_TABLE = f"{SCHEMA}.pii_key"
HASH_FUNCTION = f"{SCHEMA}.hash_pii"
KEY_FUNCTION = f"{SCHEMA}.pii_hash_key"

# The macro emits `private.hash_pii(<normalised>, (select private.pii_hash_key()))`:
# - `(select private.pii_hash_key())` is an uncorrelated subquery, so Postgres reads the key once per query
#   (an InitPlan), and `pii_hash_key()` raises when the key is missing instead of hashing everything to null;
# - `hash_pii` is a one-expression SQL function, `stable` like `convert_to`, so the planner inlines it:
#   as fast as the expression the macro used to inline (measured 0.8 s per million values), where a
#   function reading the table per row took 6 s;
# - `strict`: a null (or normalised-to-null) value hashes to null, as the macro's `case` did;
# - neither is `security definer`: callers need their own right to the key, which keeps others out.
_FUNCTIONS = (
    f"""
    create or replace function {KEY_FUNCTION}() returns text
    language plpgsql stable parallel safe
    as $$
    declare
        found_key text;
    begin
        select k.key into found_key from {KEY_TABLE} as k;
        if found_key is null then
            raise exception 'no PII hash key in {KEY_TABLE}: run `journey warehouse init`';
        end if;
        return found_key;
    end
    $$
    """,
    f"""
    create or replace function {HASH_FUNCTION}(value text, key text) returns text
    language sql stable strict parallel safe
    as $$ select encode(sha256(convert_to(key || value, 'UTF8')), 'hex') $$
    """,
)


def pii_salt(env: Mapping[str, str] | None = None) -> str:
    """The configured salt: `PII_HASH_SALT`, else the dev-only default."""
    env = os.environ if env is None else env
    return env.get(SALT_ENV) or DEV_SALT


def ensure_pii_key(
    settings: WarehouseSettings | None = None, role: str = "transformer", salt: str | None = None
) -> str:
    """Create `private`, its key table and `private.hash_pii`, and store the salt; safe to re-run.

    Connects as `role` (the transformer by default), so the objects belong to the role that runs dbt
    and no other role is granted anything. Returns a one-line log for `journey warehouse init`.
    """
    if salt is None:
        salt = pii_salt()
        origin = SALT_ENV if os.environ.get(SALT_ENV) else f"the dev-only default ({SALT_ENV} unset)"
    else:
        origin = "the given salt"
    if not salt:
        raise ValueError(f"{SALT_ENV} is empty: set it to a long random secret (or unset it in dev)")
    owner = sql.Identifier(ROLE_USERS["transformer"])
    with connect(role, settings, autocommit=False) as conn, conn.transaction():
        # dbt invocations may start side by side (each refreshes the key): one at a time, or the DDL
        # below fails with "tuple concurrently updated"
        conn.execute("select pg_advisory_xact_lock(hashtext('journey.private.pii_key'))")
        exists = conn.execute("select 1 from pg_namespace where nspname = %s", (SCHEMA,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create schema {} authorization {}").format(sql.Identifier(SCHEMA), owner))
        conn.execute(sql.SQL("revoke all on schema {} from public").format(sql.Identifier(SCHEMA)))
        conn.execute(
            f"""
            create table if not exists {KEY_TABLE} (
                singleton boolean primary key default true check (singleton),
                key text not null check (key <> '')
            )
            """
        )
        conn.execute(f"revoke all on {KEY_TABLE} from public")
        conn.execute(
            f"""
            insert into {KEY_TABLE} (key) values (%s)
            on conflict (singleton) do update set key = excluded.key
            where {KEY_TABLE}.key is distinct from excluded.key
            """,
            (salt,),
        )
        for function in _FUNCTIONS:
            conn.execute(function)
        conn.execute(f"revoke all on function {KEY_FUNCTION}() from public")
        conn.execute(f"revoke all on function {HASH_FUNCTION}(text, text) from public")
    return f"pii key: {KEY_TABLE} from {origin}, read by {HASH_FUNCTION} in dbt staging (transformer only)"
