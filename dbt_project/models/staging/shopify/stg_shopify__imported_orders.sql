{#- Order history imported from the previous platform. `customer_id` there is either the Shopify
    customer id (digits) or an external id: only the former can join Shopify customers. -#}
with

source as (
    select * from {{ source('shopify', 'imported_orders') }}
),

final as (
    select
        cast(order_id as text) as imported_order_id,
        cast(customer_id as text) as source_customer_id,
        case
            when cast(customer_id as text) ~ '^\d{1,18}$' then cast(cast(customer_id as text) as bigint)
            when cast(customer_id as text) ~ '^gid://shopify/Customer/\d+$'
                then {{ shopify_id('cast(customer_id as text)') }}
        end as customer_id,
        cast(ordered_at as timestamptz) as ordered_at,
        cast(amount as numeric(14, 2)) as amount,
        upper(currency) as currency_code,
        items,
        source_file,
        cast(source_line as integer) as source_line
    from source
)

select * from final
