with

order_items as (
    select * from {{ ref('int_order_items_enriched') }}
),

final as (
    select
        line_item_id,
        order_id,
        order_key,
        customer_id,
        ordered_at,
        {{ utc_date('ordered_at') }} as order_date,
        is_cancelled,
        product_id,
        variant_id,
        sku,
        title,
        category,
        is_repeatable,
        quantity,
        unit_price,
        gross_amount,
        discount_amount,
        refunded_quantity,
        refunded_amount,
        net_amount
    from order_items
)

select * from final
