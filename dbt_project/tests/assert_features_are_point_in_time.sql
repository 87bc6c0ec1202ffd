-- No feature row may reflect an order placed on or after its snapshot date: the last order is before
-- the snapshot, and the order count equals the orders placed (and not yet cancelled) before it.
{{ config(meta={'dagster': {'ref': {'name': 'ml_customer_features'}}}) }}

with

features as (
    select * from {{ ref('ml_customer_features') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
    where customer_id is not null
),

orders_before as (
    select
        features.customer_id,
        features.snapshot_date,
        count(orders.order_key) as orders_before_snapshot,
        max(orders.ordered_at) as last_order_before_snapshot
    from features
    left join orders
        on
            features.customer_id = orders.customer_id
            and orders.ordered_at < {{ utc_midnight('features.snapshot_date') }}
            and (orders.cancelled_at is null or orders.cancelled_at >= {{ utc_midnight('features.snapshot_date') }})
    group by features.customer_id, features.snapshot_date
),

final as (
    select
        features.customer_id,
        features.snapshot_date,
        features.frequency,
        orders_before.orders_before_snapshot,
        features.last_order_at
    from features
    inner join orders_before
        on features.customer_id = orders_before.customer_id and features.snapshot_date = orders_before.snapshot_date
    where
        features.last_order_at >= {{ utc_midnight('features.snapshot_date') }}
        or features.first_order_at >= {{ utc_midnight('features.snapshot_date') }}
        or features.frequency != orders_before.orders_before_snapshot
        or features.last_order_at != orders_before.last_order_before_snapshot
)

select * from final
