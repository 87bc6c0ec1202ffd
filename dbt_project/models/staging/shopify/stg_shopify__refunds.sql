with

source as (
    select * from {{ source('shopify', 'refunds') }}
),

final as (
    select
        {{ shopify_id('id') }} as refund_id,
        {{ shopify_id('order_id') }} as order_id,
        cast(created_at as timestamptz) as refunded_at,
        note,
        cast(coalesce(total_refunded_amount, 0) as numeric(14, 2)) as refund_amount,
        cast(order_updated_at as timestamptz) as order_updated_at
    from source
)

select * from final
