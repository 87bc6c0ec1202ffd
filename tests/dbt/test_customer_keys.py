"""Tier 1/3: customer-key derivation (`customer_key`, `external_key` in dbt_project/macros/surrogate_keys.sql),
compiled by dbt and evaluated by Postgres: ids of every form become a key, never NULL, never the key of
another id; Shopify's own ids keep their numbers; the same text always gives the same key.
"""

from __future__ import annotations

import hashlib
import json
import random
import string

import psycopg
import pytest

FORMS = [
    ("7300000000001", 7300000000001),  # a Shopify customer id
    ("gid://shopify/Customer/7300000000001", 7300000000001),  # its gid: the same customer
    ("  42 ", 42),  # trimmed
    ("1", 1),
]


def _external(text: str) -> int:
    """The documented rule, independently: -1 - the first 60 bits of md5(text)."""
    return -1 - int(hashlib.md5(text.encode()).hexdigest()[:15], 16)


@pytest.fixture(scope="module")
def key_sql(run_dbt) -> str:
    proc = run_dbt(
        "compile", "--quiet", "--inline", "select id, {{ customer_key('id') }} as customer_key from ids",
        "--output", "json",
    )  # fmt: skip
    return json.loads(proc.stdout[proc.stdout.index("{") :])["compiled"]


def _keys(dbt_warehouse, key_sql: str, ids: list[str | None]) -> list[tuple[str | None, int | None]]:
    """(id, key) per id, computed by Postgres with the compiled macro."""
    with psycopg.connect(dbt_warehouse.role_url("transformer")) as conn:
        conn.execute("create temporary table ids (id text)")
        with conn.cursor().copy("copy ids (id) from stdin") as copy:
            for value in ids:
                copy.write_row((value,))
        return conn.execute(key_sql).fetchall()


def test_every_form(dbt_warehouse, key_sql):
    others = ["C-0001", "ann@example.com", "1234567890123456789", "00001", "12346.0", "cust 7", "ÄÖÜ-ß", "-5",
              "gid://shopify/Order/1"]  # fmt: skip
    rows = dict(_keys(dbt_warehouse, key_sql, [i for i, _ in FORMS] + others + ["", "   ", None]))
    for raw, expected in FORMS:
        assert rows[raw] == expected, raw
    for raw in others:
        assert rows[raw] == _external(raw.strip()) and rows[raw] < 0, raw
    assert rows["00001"] != rows["1"]  # no merging of 00001 and 1
    assert rows[""] is None and rows["   "] is None and rows[None] is None


def test_no_collisions_among_many_ids(dbt_warehouse, key_sql):
    rng = random.Random(11)
    ids = {f"C-{n:06d}" for n in range(40_000)}
    ids |= {str(n) for n in range(1, 20_000)} | {f"{n:07d}" for n in range(1, 20_000)}
    ids |= {
        "".join(rng.choices(string.ascii_letters + string.digits + "@.-_", k=rng.randint(3, 24)))
        for _ in range(40_000)
    }
    ids |= {str(10**18 + n) for n in range(10_000)}  # 19 digits: beyond a Shopify id
    rows = _keys(dbt_warehouse, key_sql, sorted(ids))
    keys = [k for _, k in rows]
    assert None not in keys
    assert len(set(keys)) == len(ids) == len(rows)
