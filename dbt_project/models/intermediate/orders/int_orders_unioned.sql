{#- Every order the shop knows: Shopify orders (test orders excluded) and the history imported from the
    previous platform, in one shape, so customer history (first order, cohorts, RFM) starts at the
    customer's real first purchase. `order_key` is unique across both; `order_id` is the Shopify id
    (null for imported orders). Refunds come from the refunds table when present. -#}
with

shopify_orders as (
    select * from {{ ref('stg_shopify__orders') }}
),

imported_orders as (
    select * from {{ ref('stg_shopify__imported_orders') }}
),

refunds as (
    select * from {{ ref('stg_shopify__refunds') }}
),

refunds_per_order as (
    select
        order_id,
        sum(refund_amount) as refunded_amount,
        max(refunded_at) as last_refunded_at
    from refunds
    group by order_id
),

shopify as (
    select
        'shopify-' || shopify_orders.order_id as order_key,
        shopify_orders.order_id,
        'shopify' as order_source,
        shopify_orders.order_name,
        shopify_orders.customer_id,
        shopify_orders.created_at as ordered_at,
        shopify_orders.processed_at,
        shopify_orders.cancelled_at,
        shopify_orders.financial_status,
        shopify_orders.currency_code,
        shopify_orders.subtotal_amount,
        shopify_orders.discount_amount,
        shopify_orders.total_price,
        coalesce(refunds_per_order.refunded_amount, shopify_orders.refunded_amount) as refunded_amount,
        refunds_per_order.last_refunded_at,
        shopify_orders.discount_codes,
        shopify_orders.journey_anonymous_id
    from shopify_orders
    left join refunds_per_order on shopify_orders.order_id = refunds_per_order.order_id
    where not shopify_orders.is_test
),

imported as (
    select
        'imported-' || imported_order_id as order_key,
        cast(null as bigint) as order_id,
        'imported' as order_source,
        imported_order_id as order_name,
        customer_id,
        ordered_at,
        ordered_at as processed_at,
        cast(null as timestamptz) as cancelled_at,
        'PAID' as financial_status,
        currency_code,
        amount as subtotal_amount,
        cast(0 as numeric(14, 2)) as discount_amount,
        amount as total_price,
        cast(0 as numeric(14, 2)) as refunded_amount,
        cast(null as timestamptz) as last_refunded_at,
        cast(null as text) as discount_codes,
        cast(null as text) as journey_anonymous_id
    from imported_orders
),

unioned as (
    select * from shopify
    union all
    select * from imported
),

final as (
    select
        order_key,
        order_id,
        order_source,
        order_name,
        customer_id,
        ordered_at,
        processed_at,
        cancelled_at,
        cancelled_at is not null as is_cancelled,
        financial_status,
        currency_code,
        subtotal_amount,
        discount_amount,
        total_price,
        refunded_amount,
        total_price - refunded_amount as net_revenue,
        last_refunded_at,
        discount_codes,
        journey_anonymous_id
    from unioned
)

select * from final
