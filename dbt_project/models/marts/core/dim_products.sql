{#- The catalog: Shopify products, plus the products that appear only on the lines of the order-history
    export (their title from the export, category `uncategorised`), so every sold product is here. -#}
with

shopify_products as (
    select * from {{ ref('stg_shopify__products') }}
),

variants as (
    select * from {{ ref('stg_shopify__product_variants') }}
),

order_items as (
    select * from {{ ref('int_order_items_enriched') }}
    where not is_cancelled
),

exported_products as (
    select
        product_id,
        min(title) as product_title,
        min(ordered_at) as first_seen_at
    from {{ ref('int_order_items_enriched') }} as items
    where
        not exists (
            select 1 from shopify_products
            where shopify_products.product_id = items.product_id
        )
    group by product_id
),

products as (
    select
        product_id,
        'shopify' as product_source,
        product_title,
        handle,
        category,
        vendor,
        product_status,
        tags,
        is_repeatable,
        created_at,
        updated_at
    from shopify_products

    union all

    select
        product_id,
        'imported' as product_source,
        product_title,
        cast(null as text) as handle,
        'uncategorised' as category,
        cast(null as text) as vendor,
        cast(null as text) as product_status,
        cast(null as text) as tags,
        false as is_repeatable,
        first_seen_at as created_at,
        cast(null as timestamptz) as updated_at
    from exported_products
),

variant_stats as (
    select
        product_id,
        count(*) as variants,
        min(price) as min_price,
        max(price) as max_price
    from variants
    group by product_id
),

sales as (
    select
        product_id,
        count(distinct order_id) as orders,
        count(distinct customer_id) as customers,
        sum(quantity) as units_sold,
        sum(net_amount) as net_revenue,
        min(ordered_at) as first_sold_at,
        max(ordered_at) as last_sold_at
    from order_items
    group by product_id
),

final as (
    select
        products.product_id,
        products.product_source,
        products.product_title,
        products.handle,
        products.category,
        products.vendor,
        products.product_status,
        products.tags,
        products.is_repeatable,
        products.created_at,
        products.updated_at,
        coalesce(variant_stats.variants, 0) as variants,
        variant_stats.min_price,
        variant_stats.max_price,
        coalesce(sales.orders, 0) as orders,
        coalesce(sales.customers, 0) as customers,
        coalesce(sales.units_sold, 0) as units_sold,
        coalesce(sales.net_revenue, 0) as net_revenue,
        sales.first_sold_at,
        sales.last_sold_at
    from products
    left join variant_stats on products.product_id = variant_stats.product_id
    left join sales on products.product_id = sales.product_id
)

select * from final
