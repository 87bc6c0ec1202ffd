{#- One row per order (Shopify and imported history; test orders excluded). Revenue columns:
    `total_price` is what the customer paid at checkout, `net_revenue` subtracts refunds. Margin:
    contribution_margin = net_sales - cogs - net_shipping_cost - payment_fees (docs/analyst_queries.md). The
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
        sum(quantity) as units,
        sum(gross_amount) as gross_sales,
        -- one line without a cost makes the order's COGS unknown rather than understated
        case when count(unit_cost) = count(*) then sum(cogs) end as cogs
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

margins as (
    -- gross sales are the lines at full price (an order without exported lines: its subtotal before
    -- discounts); net sales take off discounts and refunds; shipping and payment costs come from the
    -- vars `shipping_cost_per_order`, `payment_fee_rate`, `payment_fee_fixed` (a cancelled order has none)
    select
        orders.order_id,
        coalesce(items_per_order.gross_sales, orders.subtotal_amount + orders.discount_amount) as gross_sales,
        coalesce(items_per_order.gross_sales, orders.subtotal_amount + orders.discount_amount)
        - orders.discount_amount - orders.refunded_amount as net_sales,
        case when orders.is_cancelled then 0 else items_per_order.cogs end as cogs,
        cast(
            case when orders.is_cancelled then 0 else {{ var('shipping_cost_per_order') }} end as numeric(14, 2)
        ) as shipping_cost,
        cast(case
            when orders.is_cancelled then 0
            else round(orders.total_price * {{ var('payment_fee_rate') }} + {{ var('payment_fee_fixed') }}, 2)
        end as numeric(14, 2)) as payment_fees
    from orders
    left join items_per_order on orders.order_id = items_per_order.order_id
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
        sequenced.shipping_amount as shipping_revenue,
        sequenced.tax_amount,
        margin.gross_sales,
        margin.net_sales,
        margin.cogs,
        margin.shipping_cost,
        margin.payment_fees,
        margin.shipping_cost - sequenced.shipping_amount as net_shipping_cost,
        margin.net_sales - margin.cogs - (margin.shipping_cost - sequenced.shipping_amount)
        - margin.payment_fees as contribution_margin,
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
    left join margins as margin on sequenced.order_id = margin.order_id
)

select * from final
