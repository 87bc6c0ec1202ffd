"""The segment SQL guard on a small hand-built catalog: what it lets through, and what it refuses with
a reason a marketer can read."""

from __future__ import annotations

import pytest

from ingestion.activation.sql_guard import Catalog, UnsafeSegmentSQL, validate_segment_sql

CATALOG = Catalog(
    {
        "marts.dim_customers": {
            "customer_id": "The customer's key.",
            "city": "City of the default address.",
            "net_revenue": "Net revenue to date.",
            "recency_days": "Days since the last order.",
        },
        "marts.fct_order_items": {"customer_id": "", "category": "", "is_cancelled": "", "net_amount": ""},
        "ml.churn_scores": {"customer_id": "", "snapshot_date": "", "risk_band": ""},
    },
    table_descriptions={"marts.dim_customers": "One row per customer."},
)

ACCEPTED = [
    "select customer_id from marts.dim_customers",
    "SELECT Customer_ID FROM Marts.Dim_Customers WHERE recency_days > 90",
    "select c.customer_id from marts.dim_customers as c where lower(c.city) like '%lon%'",
    "select c.customer_id from marts.dim_customers c join ml.churn_scores s on s.customer_id = c.customer_id "
    "where s.risk_band = 'high' and s.snapshot_date = (select max(snapshot_date) from ml.churn_scores)",
    "with big as (select customer_id, sum(net_amount) as spent from marts.fct_order_items group by 1) "
    "select customer_id from big where spent > 100",
    "select customer_id from marts.dim_customers where city = 'Paris' "
    "union select customer_id from ml.churn_scores where risk_band = 'high'",
    "select c.customer_id from marts.dim_customers c where exists (select 1 from marts.fct_order_items i "
    "where i.customer_id = c.customer_id and not i.is_cancelled and i.category = 'Outerwear')",
    "select customer_id from (select customer_id, ntile(10) over (order by net_revenue desc) as d "
    "from marts.dim_customers) t where d = 1",
    "select customer_id, coalesce(net_revenue, 0) as spent from marts.dim_customers",
    "select * from marts.dim_customers",
    "select customer_id from marts.dim_customers;",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_accepted(sql: str) -> None:
    normalized = validate_segment_sql(sql, CATALOG)
    assert validate_segment_sql(normalized, CATALOG) == normalized  # stable: what is saved re-validates


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("select customer_id from marts.dim_customers; select 1", "one SELECT; this SQL holds 2 statements"),
        (
            "select customer_id from marts.dim_customers; drop table marts.dim_customers",
            "2 statements",
        ),
        ("insert into marts.dim_customers (customer_id) values (1)", "INSERT statement"),
        ("delete from marts.dim_customers", "DELETE statement"),
        ("update marts.dim_customers set city = 'x'", "UPDATE statement"),
        ("drop table marts.dim_customers", "DROP statement"),
        ("truncate marts.dim_customers", "TRUNCATE"),
        ("grant select on marts.dim_customers to public", "GRANT"),
        ("set role postgres", "command"),
        ("copy marts.dim_customers to stdout", "COPY"),
        (
            "with gone as (delete from marts.dim_customers returning customer_id) select customer_id from gone",
            "DELETE: a segment only reads",
        ),
        ("select customer_id into backup from marts.dim_customers", "SELECT ... INTO"),
        ("select customer_id from marts.dim_customers for update", "locking clause"),
        ("select customer_id from marts.no_such_table", "no table marts.no_such_table"),
        ("select customer_id from dim_customers", "no schema: write it as marts.dim_customers"),
        (
            "select id as customer_id from shopify.customers",
            "shopify.customers is outside the segment schemas",
        ),
        ("select usename as customer_id from pg_catalog.pg_user", "outside the segment schemas"),
        ("select customer_id from marts.dim_customers where email like '%@%'", "column 'email'"),
        ("select customer_id, email from marts.dim_customers", "column 'email'"),
        (
            "select customer_id from marts.dim_customers c join ml.churn_scores s using (customer_id) "
            "where snapshot_date is not null and customer_id > 0 and nope > 1",
            "column 'nope'",
        ),
        ("select customer_id from marts.dim_customers where pg_sleep(10) is not null", "pg_sleep()"),
        ("select customer_id, pg_read_file('/etc/passwd') from marts.dim_customers", "pg_read_file()"),
        (
            "select customer_id, current_setting('data_directory') from marts.dim_customers",
            "current_setting()",
        ),
        (
            "select customer_id from marts.dim_customers where set_config('a', 'b', false) = 'b'",
            "set_config()",
        ),
        (
            "select customer_id, query_to_xml('select 1', true, true, '') from marts.dim_customers",
            "query_to_xml()",
        ),
        ("select customer_id, pg_catalog.lower(city) from marts.dim_customers", "schema-qualified function"),
        ("select * from pg_sleep(1)", "pg_sleep()"),
        ("select g as customer_id from generate_series(1, 10) as g", "not set-returning functions"),
        ("select city from marts.dim_customers", "must return a column named customer_id"),
        ("select count(*) from marts.dim_customers", "must return a column named customer_id"),
        ("select customer_id from marts.dim_customers where city = $1", "parameter"),
        ("values (1)", "VALUES statement"),
        ("", "empty"),
        ("select customer_id from", "not SQL the guard can read"),
    ],
)
def test_rejected(sql: str, reason: str) -> None:
    with pytest.raises(UnsafeSegmentSQL, match=_escape(reason)) as info:
        validate_segment_sql(sql, CATALOG)
    assert isinstance(info.value, ValueError) and info.value.reason


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_normalized_sql_is_regenerated_from_the_checked_tree() -> None:
    out = validate_segment_sql("select customer_id -- members\nfrom marts.dim_customers", CATALOG)
    assert "marts.dim_customers" in out and "members" not in out
