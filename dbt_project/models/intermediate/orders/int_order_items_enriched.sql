{#- Order lines with their order's context, the product's category and what was refunded: Shopify's line
    items, and the lines of the order-history export (for the orders exported with lines). An imported
    line is the Shopify product with the same sku when Shopify is configured, else the export's product
    key (dim_products lists those products too). `unit_cost` is the variant's inventory item cost in
    Shopify (today's cost: Shopify keeps no cost history), null when the shop entered none. -#}
with

line_items as (
    select * from {{ ref('stg_shopify__order_line_items') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where order_source = 'shopify'
),

imported_lines as (
    select * from {{ ref('stg_order_history__order_items') }}
),

imported_orders as (
    select * from {{ ref('int_orders_unioned') }}
    where order_source = 'imported'
),

variants as (
    select * from {{ ref('stg_shopify__product_variants') }}
),

variant_skus as (
    select
        sku,
        min(product_id) as product_id,
        min(variant_id) as variant_id,
        min(unit_cost) as unit_cost
    from variants
    where sku is not null
    group by sku
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

shopify_lines as (
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
        variants.unit_cost,
        coalesce(refunds_per_line.refunded_quantity, 0) as refunded_quantity,
        coalesce(refunds_per_line.refunded_amount, 0) as refunded_amount,
        line_items.quantity * line_items.unit_price
        - line_items.discount_amount
        - coalesce(refunds_per_line.refunded_amount, 0) as net_amount
    from line_items
    inner join orders on line_items.order_id = orders.order_id
    left join products on line_items.product_id = products.product_id
    left join refunds_per_line on line_items.line_item_id = refunds_per_line.line_item_id
    left join variants on line_items.variant_id = variants.variant_id
),

imported_with_products as (
    select
        imported_lines.*,
        coalesce(variant_skus.product_id, imported_lines.product_key) as matched_product_id,
        variant_skus.variant_id as matched_variant_id,
        variant_skus.unit_cost as matched_unit_cost
    from imported_lines
    left join variant_skus on imported_lines.sku = variant_skus.sku
),

exported_lines as (
    select
        imported_with_products.line_item_id,
        imported_with_products.order_id,
        imported_orders.order_key,
        imported_orders.customer_id,
        imported_orders.ordered_at,
        imported_orders.is_cancelled,
        imported_with_products.matched_product_id as product_id,
        imported_with_products.matched_variant_id as variant_id,
        imported_with_products.sku,
        coalesce(products.product_title, imported_with_products.title) as title,
        coalesce(products.category, 'uncategorised') as category,
        coalesce(products.is_repeatable, false) as is_repeatable,
        imported_with_products.quantity,
        imported_with_products.unit_price,
        imported_with_products.quantity * imported_with_products.unit_price as gross_amount,
        cast(0 as numeric(14, 2)) as discount_amount,
        imported_with_products.matched_unit_cost as unit_cost,
        0 as refunded_quantity,
        cast(0 as numeric(14, 2)) as refunded_amount,
        imported_with_products.quantity * imported_with_products.unit_price as net_amount
    from imported_with_products
    inner join imported_orders on imported_with_products.order_id = imported_orders.order_id
    left join products on imported_with_products.matched_product_id = products.product_id
),

unioned as (
    select * from shopify_lines
    union all
    select * from exported_lines
),

final as (
    select
        *,
        -- the cost of the units the customer kept (a cancelled order ships nothing); null = no cost
        case
            when is_cancelled then 0
            else unit_cost * (quantity - refunded_quantity)
        end as cogs
    from unioned
)

select * from final
