{#- One row per customer who ever ordered (Shopify or imported history), with the order history that
    RFM, cohorts and the dashboards share. Cancelled orders do not count. The acquisition channel is
    the first touch of the customer's first order (`Unattributed` when that order predates tracking
    or had no journey). -#}
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where customer_id is not null and not is_cancelled
),

touchpoints as (
    select * from {{ ref('int_touchpoints_collected') }}
),

ranked_orders as (
    select
        *,
        row_number() over (partition by customer_id order by ordered_at, order_key) as order_rank
    from orders
),

first_orders as (
    select * from ranked_orders
    where order_rank = 1
),

history as (
    select
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as orders,
        count(*) filter (where order_source = 'imported') as imported_orders,
        sum(total_price) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue,
        sum(discount_amount) as discount_amount
    from orders
    group by customer_id
),

first_touches as (
    select
        order_id,
        channel
    from touchpoints
    where touch_number = 1
),

final as (
    select
        history.customer_id,
        history.first_order_at,
        history.last_order_at,
        history.orders,
        history.imported_orders,
        history.gross_revenue,
        history.refunded_amount,
        history.net_revenue,
        history.discount_amount,
        first_orders.order_key as first_order_key,
        first_orders.order_source as first_order_source,
        coalesce(first_touches.channel, 'Unattributed') as acquisition_channel
    from history
    inner join first_orders on history.customer_id = first_orders.customer_id
    left join first_touches on first_orders.order_id = first_touches.order_id
)

select * from final
