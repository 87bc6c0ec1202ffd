with

source as (
    select * from {{ source('shopify', 'order_line_items') }}
),

final as (
    select
        {{ shopify_id('id') }} as line_item_id,
        {{ shopify_id('order_id') }} as order_id,
        {{ shopify_id('product_id') }} as product_id,
        {{ shopify_id('variant_id') }} as variant_id,
        sku,
        title,
        cast(quantity as integer) as quantity,
        cast(original_unit_price_amount as numeric(14, 2)) as unit_price,
        cast(coalesce(total_discount_amount, 0) as numeric(14, 2)) as discount_amount,
        cast(order_updated_at as timestamptz) as order_updated_at
    from source
)

select * from final
