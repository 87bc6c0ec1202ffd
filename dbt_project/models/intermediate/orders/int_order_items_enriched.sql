{#- Shopify line items with their order's context, the product's category and what was refunded. -#}
with

line_items as (
    select * from {{ ref('stg_shopify__order_line_items') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where order_source = 'shopify'
),

products as (
    select * from {{ ref('stg_shopify__products') }}
),

refund_line_items as (
    select * from {{ ref('stg_shopify__refund_line_items') }}
),

refunds_per_line as (
    select
        line_item_id,
        sum(quantity) as refunded_quantity,
        sum(refund_amount) as refunded_amount
    from refund_line_items
    group by line_item_id
),

final as (
    select
        line_items.line_item_id,
        line_items.order_id,
        orders.order_key,
        orders.customer_id,
        orders.ordered_at,
        orders.is_cancelled,
        line_items.product_id,
        line_items.variant_id,
        line_items.sku,
        line_items.title,
        coalesce(products.category, 'uncategorised') as category,
        coalesce(products.is_repeatable, false) as is_repeatable,
        line_items.quantity,
        line_items.unit_price,
        line_items.quantity * line_items.unit_price as gross_amount,
        line_items.discount_amount,
        coalesce(refunds_per_line.refunded_quantity, 0) as refunded_quantity,
        coalesce(refunds_per_line.refunded_amount, 0) as refunded_amount,
        line_items.quantity * line_items.unit_price
        - line_items.discount_amount
        - coalesce(refunds_per_line.refunded_amount, 0) as net_amount
    from line_items
    inner join orders on line_items.order_id = orders.order_id
    left join products on line_items.product_id = products.product_id
    left join refunds_per_line on line_items.line_item_id = refunds_per_line.line_item_id
)

select * from final
