{#- Order history imported from the previous platform. `customer_id` there is either the Shopify
    customer id (digits or gid) or an external id: only the former can join Shopify customers.
    A shop that never imported history has no raw table (dlt creates tables on first data): the model
    is then empty rather than failing the build. -#}
{%- set raw = source('shopify', 'imported_orders') -%}
{%- set exists = true -%}
{%- if execute -%}
    {%- set exists = adapter.get_relation(database=raw.database, schema=raw.schema, identifier=raw.identifier) is not none -%}
    {%- if not exists -%}
        {{ log("shopify.imported_orders does not exist: no imported order history", info=true) }}
    {%- endif -%}
{%- endif %}
{% if exists -%}
with

source as (
    select * from {{ raw }}
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
        cast(items as jsonb) as items,
        source_file,
        cast(source_line as integer) as source_line
    from source
)

select * from final
{%- else -%}
select
    cast(null as text) as imported_order_id,
    cast(null as text) as source_customer_id,
    cast(null as bigint) as customer_id,
    cast(null as timestamptz) as ordered_at,
    cast(null as numeric(14, 2)) as amount,
    cast(null as text) as currency_code,
    cast(null as jsonb) as items,
    cast(null as text) as source_file,
    cast(null as integer) as source_line
where false
{%- endif %}
