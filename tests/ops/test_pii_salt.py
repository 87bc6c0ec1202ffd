"""The PII hash salt stays in the warehouse (`private.pii_key`, ingestion/warehouse/pii.py): after the
tiny shop's dbt build no compiled artifact, log, view, function or comment holds it; only the
transformer reads it; the hashes are the ones the salt always gave (sha256 of salt || normalised);
a changed PII_HASH_SALT is what the next dbt run hashes with."""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from ingestion.warehouse import WarehouseSettings, connect
from ingestion.warehouse.paths import PROJECT_ROOT
from ingestion.warehouse.pii import ensure_pii_key, pii_salt

# collected at session start: project target/ files newer than this were written by this session's
# Dagster dbt runs (the e2e tier), older ones are a developer's leftovers
SESSION_START = time.time()


def py_hash(salt: str, value: str | None, kind: str) -> str | None:
    """The hash as the macro always defined it, computed outside Postgres."""
    if value is None:
        return None
    normalised = re.sub(r"[^0-9+]", "", value) if kind == "phone" else value.strip(" ").lower()
    return hashlib.sha256((salt + normalised).encode()).hexdigest() if normalised else None


def dbt_output_files(basetemp: Path) -> list[Path]:
    """Everything the session's dbt runs wrote: the fixture's target and log dirs, and the project's
    own target/ (dagster-dbt's per-invocation dirs) from this session."""
    work_dirs = [d for d in basetemp.glob("dbt*") if not d.is_symlink()]  # not pytest's `dbtcurrent`
    files = [p for work in work_dirs for p in work.rglob("*") if p.is_file()]
    project_target = PROJECT_ROOT / "dbt_project" / "target"
    if project_target.is_dir():
        files += [p for p in project_target.rglob("*") if p.is_file() and p.stat().st_mtime >= SESSION_START]
    return files


def test_salt_is_in_no_artifact_and_no_definition(
    built_tiny, dbt_warehouse: WarehouseSettings, tmp_path_factory
):
    salt = pii_salt().encode()
    files = dbt_output_files(tmp_path_factory.getbasetemp())
    model = ("compiled", "customer_journey", "models", "staging", "shopify", "stg_shopify__customers.sql")
    compiled = [p for p in files if p.parts[-len(model) :] == model]
    assert compiled, "the dbt fixture's compiled models should be under the session's basetemp"
    assert "private.hash_pii(" in compiled[0].read_text()  # the macro emits only the function call
    assert any(p.name == "manifest.json" for p in files) and any(p.suffix == ".log" for p in files)
    assert [str(p) for p in files if salt in p.read_bytes()] == []

    with connect("admin", dbt_warehouse) as conn:
        views = conn.execute(
            "select schemaname || '.' || viewname, definition from pg_views"
            " where schemaname not in ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert sum("private.hash_pii(" in d for _, d in views) >= 3  # the staging views that hash
        holders = conn.execute(
            """
            select 'view ' || viewname from pg_views where strpos(definition, %(s)s) > 0
            union all select 'matview ' || matviewname from pg_matviews where strpos(definition, %(s)s) > 0
            union all select 'function ' || proname from pg_proc where strpos(prosrc, %(s)s) > 0
            union all select 'comment ' || objoid::text from pg_description where strpos(description, %(s)s) > 0
            union all select 'default ' || adrelid::regclass::text from pg_attrdef
                where strpos(pg_get_expr(adbin, adrelid), %(s)s) > 0
            """,
            {"s": salt.decode()},
        ).fetchall()
    assert holders == []


def test_hashes_are_unchanged_for_the_same_salt(built_tiny, dbt_warehouse: WarehouseSettings):
    salt = pii_salt()
    with connect("transformer", dbt_warehouse) as conn:
        for raw, staged in (("customers", "stg_shopify__customers"), ("orders", "stg_shopify__orders")):
            clear = conn.execute(f"select email, phone from shopify.{raw}").fetchall()
            hashed = conn.execute(f"select email_hash, phone_hash from staging.{staged}").fetchall()
            assert sum(e is not None for e, _ in clear) > 0 and sum(p is not None for _, p in clear) > 0
            assert Counter(hashed) == Counter(
                (py_hash(salt, e, "email"), py_hash(salt, p, "phone")) for e, p in clear
            ), staged
        # and the function equals the expression the macro used to inline, for a known email
        same = conn.execute(
            "select private.hash_pii(%(v)s, k) = encode(sha256(convert_to(%(s)s || %(v)s, 'UTF8')), 'hex'),"
            " private.hash_pii(%(v)s, k), private.hash_pii(null, k)"
            " from (select private.pii_hash_key() as k) as key",
            {"v": "ann@example.com", "s": salt},
        ).fetchone()
    assert same == (True, py_hash(salt, " Ann@Example.com", "email"), None)


@pytest.mark.parametrize("role", ["reporter", "loader"])
def test_only_the_transformer_reads_the_key(dbt_warehouse: WarehouseSettings, role: str):
    for statement in (
        "select key from private.pii_key",
        "select private.pii_hash_key()",
        "select private.hash_pii('ann@example.com', 'a guessed salt')",
    ):
        with connect(role, dbt_warehouse) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_a_changed_salt_is_what_the_next_run_hashes_with(dbt_warehouse: WarehouseSettings, monkeypatch):
    def hashed() -> str:
        with connect("transformer", dbt_warehouse) as conn:
            return conn.execute(
                "select private.hash_pii('ann@example.com', (select private.pii_hash_key()))"
            ).fetchone()[0]

    monkeypatch.setenv("PII_HASH_SALT", "rotated-salt")
    try:
        assert "from PII_HASH_SALT" in ensure_pii_key(dbt_warehouse)
        assert hashed() == py_hash("rotated-salt", "ann@example.com", "email")
        ensure_pii_key(dbt_warehouse)  # idempotent
        with connect("transformer", dbt_warehouse) as conn:
            assert conn.execute("select count(*) from private.pii_key").fetchone()[0] == 1
            conn.execute("delete from private.pii_key")  # a lost key fails the query, never hashes to null
            with pytest.raises(psycopg.errors.RaiseException, match="no PII hash key in private.pii_key"):
                conn.execute("select private.hash_pii('ann@example.com', (select private.pii_hash_key()))")
    finally:
        monkeypatch.undo()
        ensure_pii_key(dbt_warehouse)  # back to the session's salt for the tests after this one
    assert hashed() == py_hash(pii_salt(), "ann@example.com", "email")
    with pytest.raises(ValueError, match="PII_HASH_SALT is empty"):
        ensure_pii_key(dbt_warehouse, salt="")
