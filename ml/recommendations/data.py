"""What the recommender reads from the warehouse, always as of a cut-off instant `end`.

Purchases come from `marts.fct_order_items` (it already carries the order's customer and time;
cancelled orders are left out). Product views and add-to-carts exist only at event grain, in
`staging.stg_events__events` (`Product Viewed` / `Product Added`, no PII columns are read); an
anonymous event counts for the customer its browser was linked to in
`intermediate.int_identities_resolved`, but only when that link was known before `end`, so a holdout
order that reveals a browser cannot leak its earlier views into training.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import psycopg

from ml.core import read_frame

INTERACTIONS_SQL = """
with purchases as (
    select
        customer_id,
        product_id,
        count(distinct order_id) as purchases,
        count(distinct order_id) filter (where ordered_at >= %(recent_start)s) as recent_purchases,
        max(ordered_at) as last_at
    from marts.fct_order_items
    where not is_cancelled and customer_id is not null and ordered_at < %(end)s
    group by customer_id, product_id
),

events as (
    select
        coalesce(e.customer_id, links.customer_id) as customer_id,
        e.product_id,
        count(*) filter (where e.event_name = 'Product Viewed') as views,
        count(*) filter (where e.event_name = 'Product Added') as carts,
        max(e.event_at) as last_at
    from staging.stg_events__events as e
    left join intermediate.int_identities_resolved as links
        on links.anonymous_id = e.anonymous_id and links.first_linked_at < %(end)s
    where
        e.event_name in ('Product Viewed', 'Product Added')
        and e.product_id is not null
        and e.event_at < %(end)s
        and coalesce(e.customer_id, links.customer_id) is not null
    group by 1, 2
)

select
    coalesce(p.customer_id, ev.customer_id) as customer_id,
    coalesce(p.product_id, ev.product_id) as product_id,
    coalesce(p.purchases, 0) as purchases,
    coalesce(p.recent_purchases, 0) as recent_purchases,
    coalesce(ev.carts, 0) as carts,
    coalesce(ev.views, 0) as views,
    greatest(p.last_at, ev.last_at) as last_at
from purchases as p
full outer join events as ev on p.customer_id = ev.customer_id and p.product_id = ev.product_id
"""

PRODUCTS_SQL = """
select product_id, product_title, category, is_repeatable, product_status, created_at
from marts.dim_products
order by product_id
"""

PURCHASES_BETWEEN_SQL = """
select distinct customer_id, product_id
from marts.fct_order_items
where not is_cancelled and customer_id is not null and ordered_at >= %(start)s and ordered_at < %(end)s
"""

CUSTOMERS_SQL = "select customer_id from marts.dim_customers order by customer_id"


def midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def read_interactions(conn: psycopg.Connection, end: dt.datetime, recent_days: int) -> pd.DataFrame:
    """One row per (customer, product) with purchases (distinct orders), purchases in the last
    `recent_days` before `end`, add-to-carts, views and the latest interaction time, all before `end`."""
    params = {"end": end, "recent_start": end - dt.timedelta(days=recent_days)}
    frame = read_frame(conn, INTERACTIONS_SQL, params)
    for col in ("customer_id", "product_id", "purchases", "recent_purchases", "carts", "views"):
        frame[col] = frame[col].astype("int64")
    frame["last_at"] = pd.to_datetime(frame["last_at"], utc=True)
    return frame


def read_products(conn: psycopg.Connection) -> pd.DataFrame:
    frame = read_frame(conn, PRODUCTS_SQL)
    frame["product_id"] = frame["product_id"].astype("int64")
    frame["is_repeatable"] = frame["is_repeatable"].fillna(False).astype(bool)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def read_purchases_between(conn: psycopg.Connection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    frame = read_frame(conn, PURCHASES_BETWEEN_SQL, {"start": start, "end": end})
    return frame.astype({"customer_id": "int64", "product_id": "int64"}) if len(frame) else frame


def read_customers(conn: psycopg.Connection) -> list[int]:
    return [int(c) for c in read_frame(conn, CUSTOMERS_SQL)["customer_id"]]
