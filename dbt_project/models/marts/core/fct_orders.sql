{#- One row per order (Shopify and imported history; test orders excluded). Revenue columns:
    `total_price` is what the customer paid at checkout, `net_revenue` subtracts refunds. The
    touch columns summarise the order's attribution journey (see fct_attribution for credits). -#}
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

order_items as (
    select * from {{ ref('int_order_items_enriched') }}
),

touchpoints as (
    select * from {{ ref('int_touchpoints_collected') }}
),

items_per_order as (
    select
        order_id,
        count(*) as line_items,
        sum(quantity) as units
    from order_items
    group by order_id
),

journeys as (
    select
        order_id,
        max(touch_count) as touchpoints,
        min(touchpoint_source) as attribution_source,
        max(channel) filter (where touch_number = 1) as first_touch_channel,
        max(channel) filter (where touch_number = touch_count) as last_touch_channel
    from touchpoints
    group by order_id
),

sequenced as (
    select
        *,
        case
            when not is_cancelled and customer_id is not null
                then row_number() over (
                    partition by customer_id, is_cancelled order by ordered_at, order_key
                )
        end as customer_order_number
    from orders
),

final as (
    select
        sequenced.order_key,
        sequenced.order_id,
        sequenced.order_source,
        sequenced.order_name,
        sequenced.customer_id,
        sequenced.ordered_at,
        {{ utc_date('sequenced.ordered_at') }} as order_date,
        sequenced.processed_at,
        sequenced.cancelled_at,
        sequenced.is_cancelled,
        sequenced.financial_status,
        sequenced.currency_code,
        sequenced.subtotal_amount,
        sequenced.discount_amount,
        sequenced.total_price,
        sequenced.refunded_amount,
        sequenced.net_revenue,
        sequenced.discount_codes,
        sequenced.discount_amount > 0 or sequenced.discount_codes is not null as has_discount,
        coalesce(items_per_order.line_items, 0) as line_items,
        coalesce(items_per_order.units, 0) as units,
        sequenced.customer_order_number,
        sequenced.customer_order_number = 1 as is_first_order,
        sequenced.journey_anonymous_id,
        journeys.touchpoints,
        journeys.attribution_source,
        journeys.first_touch_channel,
        journeys.last_touch_channel
    from sequenced
    left join items_per_order on sequenced.order_id = items_per_order.order_id
    left join journeys on sequenced.order_id = journeys.order_id
)

select * from final
