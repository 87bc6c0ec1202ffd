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
        cast(price as numeric(14, 2)) as price,
        cast(unit_cost_amount as numeric(14, 2)) as unit_cost
    from source
)

select * from final
