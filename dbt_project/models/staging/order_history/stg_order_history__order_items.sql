{#- Line items of the order-history export (one row per line; orders exported without lines have none).
    `product_key` is the export's product id (or sku) as a warehouse key; int_order_items_enriched
    prefers the Shopify product with the same sku when Shopify is configured. -#}
with

source as (
    select * from {{ source('order_history', 'order_items') }}
),

final as (
    select
        {{ external_key("cast(order_id as text) || '#' || cast(line_number as text)") }} as line_item_id,
        {{ external_key('cast(order_id as text)') }} as order_id,
        cast(line_number as integer) as line_number,
        nullif(trim(product_id), '') as source_product_id,
        nullif(trim(sku), '') as sku,
        case
            when trim(product_id) ~ '^gid://shopify/Product/\d{1,18}$' then {{ shopify_id('trim(product_id)') }}
            else {{ external_key("coalesce('product:' || nullif(trim(product_id), ''), 'sku:' || trim(sku))") }}
        end as product_key,
        nullif(trim(title), '') as title,
        cast(quantity as integer) as quantity,
        cast(price as numeric(14, 2)) as unit_price,
        source_file,
        cast(source_line as integer) as source_line
    from source
)

select * from final
