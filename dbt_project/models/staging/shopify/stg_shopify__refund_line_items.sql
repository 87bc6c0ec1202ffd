with

source as (
    select * from {{ source('shopify', 'refund_line_items') }}
),

final as (
    select
        {{ shopify_id('id') }} as refund_line_item_id,
        {{ shopify_id('refund_id') }} as refund_id,
        {{ shopify_id('order_id') }} as order_id,
        {{ shopify_id('line_item_id') }} as line_item_id,
        cast(quantity as integer) as quantity,
        cast(coalesce(subtotal_amount, 0) as numeric(14, 2)) as refund_amount
    from source
)

select * from final
