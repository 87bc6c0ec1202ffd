with

source as (
    select * from {{ source('shopify', 'products') }}
),

final as (
    select
        {{ shopify_id('id') }} as product_id,
        title as product_title,
        handle,
        coalesce(nullif(product_type, ''), 'uncategorised') as category,
        vendor,
        lower(status) as product_status,
        nullif(tags, '') as tags,
        coalesce(
            'repeatable' = any(string_to_array(regexp_replace(lower(coalesce(tags, '')), '\s*,\s*', ',', 'g'), ',')),
            false
        ) as is_repeatable,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source
)

select * from final
