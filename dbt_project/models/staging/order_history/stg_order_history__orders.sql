{#- Orders of the order-history export. `customer_id` is the warehouse key of the export's customer id
    (macro `customer_key`: any id string, never null, never merging distinct ids); `email_hash` is
    hashed like Shopify's so int_orders_unioned can join the same person's Shopify customer. -#}
with

source as (
    select * from {{ source('order_history', 'orders') }}
),

final as (
    select
        {{ external_key('cast(order_id as text)') }} as order_id,
        cast(order_id as text) as source_order_id,
        {{ customer_key('customer_id') }} as customer_id,
        trim(cast(customer_id as text)) as source_customer_id,
        {{ hash_pii('email', 'email') }} as email_hash,
        cast(ordered_at as timestamptz) as ordered_at,
        cast(amount as numeric(14, 2)) as amount,
        upper(currency) as currency_code,
        source_file,
        cast(source_line as integer) as source_line
    from source
)

select * from final
