with

source as (
    select * from {{ source('shopify', 'product_variants') }}
),

final as (
    select
        {{ shopify_id('id') }} as variant_id,
        {{ shopify_id('product_id') }} as product_id,
        sku,
        title as variant_title,
        cast(price as numeric(14, 2)) as price
    from source
)

select * from final
