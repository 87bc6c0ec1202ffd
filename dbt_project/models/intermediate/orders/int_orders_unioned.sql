{#- Every order the shop knows: Shopify orders (test orders excluded) and the order-history export of
    the previous platform, in one shape, so customer history (first order, cohorts, RFM) starts at the
    customer's real first purchase. `order_key` is unique across both (`shopify-<id>` /
    `imported-<export id>`); `order_id` is the Shopify id, or the export's id as a negative key.
    An imported customer is the Shopify customer with the same email (hash) when there is one, else the
    export's customer id as a key (macro `customer_key`). An imported order that Shopify also has (the
    export's id is the Shopify order's gid, number or name, e.g. an export from Shopify itself) counts
    once: Shopify's. Refunds come from the
    refunds table when present. Shipping and tax are what the customer was charged (0 for imported
    orders: exports carry one amount). -#}
with

shopify_orders as (
    select * from {{ ref('stg_shopify__orders') }}
),

imported_orders as (
    select * from {{ ref('stg_order_history__orders') }}
),

shopify_customers as (
    select * from {{ ref('stg_shopify__customers') }}
),

shopify_customer_emails as (
    select
        email_hash,
        min(customer_id) as customer_id
    from shopify_customers
    where email_hash is not null
    group by email_hash
),

shopify_order_refs as (
    select cast(order_id as text) as order_ref from shopify_orders
    union all
    select 'gid://shopify/Order/' || order_id as order_ref from shopify_orders
    union all
    select order_name as order_ref from shopify_orders
    where order_name is not null
),

imported_customer_matches as (
    -- one Shopify customer per export customer: the first of its emails that Shopify knows
    select
        imported_orders.customer_id as imported_customer_id,
        min(shopify_customer_emails.customer_id) as shopify_customer_id
    from imported_orders
    inner join shopify_customer_emails on imported_orders.email_hash = shopify_customer_emails.email_hash
    group by imported_orders.customer_id
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
        shopify_orders.shipping_amount,
        shopify_orders.tax_amount,
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
        'imported-' || imported_orders.source_order_id as order_key,
        imported_orders.order_id,
        'imported' as order_source,
        imported_orders.source_order_id as order_name,
        coalesce(imported_customer_matches.shopify_customer_id, imported_orders.customer_id) as customer_id,
        imported_orders.ordered_at,
        imported_orders.ordered_at as processed_at,
        cast(null as timestamptz) as cancelled_at,
        'PAID' as financial_status,
        imported_orders.currency_code,
        imported_orders.amount as subtotal_amount,
        cast(0 as numeric(14, 2)) as discount_amount,
        imported_orders.amount as total_price,
        cast(0 as numeric(14, 2)) as shipping_amount,
        cast(0 as numeric(14, 2)) as tax_amount,
        cast(0 as numeric(14, 2)) as refunded_amount,
        cast(null as timestamptz) as last_refunded_at,
        cast(null as text) as discount_codes,
        cast(null as text) as journey_anonymous_id
    from imported_orders
    left join imported_customer_matches
        on imported_orders.customer_id = imported_customer_matches.imported_customer_id
    where not exists (
        select 1 from shopify_order_refs
        where shopify_order_refs.order_ref = imported_orders.source_order_id
    )
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
        shipping_amount,
        tax_amount,
        refunded_amount,
        total_price - refunded_amount as net_revenue,
        last_refunded_at,
        discount_codes,
        journey_anonymous_id
    from unioned
)

select * from final
