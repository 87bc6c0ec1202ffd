{#- One row per order line (Shopify and imported history). Money in the shop's currency: `gross_amount`
    = quantity x unit price, `net_amount` = gross - discount - refunded, `cogs` = unit cost x units kept
    (0 for a cancelled order; null when the shop entered no cost), `gross_margin` = net_amount - cogs. -#}
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
        net_amount,
        unit_cost,
        cogs,
        net_amount - cogs as gross_margin
    from order_items
)

select * from final
