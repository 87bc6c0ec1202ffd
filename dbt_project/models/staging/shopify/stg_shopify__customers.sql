{#- Names are not carried on: nothing downstream needs them, and staging keeps PII to hashes. -#}
with

source as (
    select * from {{ source('shopify', 'customers') }}
),

final as (
    select
        {{ shopify_id('id') }} as customer_id,
        {{ hash_pii('email', 'email') }} as email_hash,
        {{ hash_pii('phone', 'phone') }} as phone_hash,
        lower(state) as customer_state,
        coalesce(cast(accepts_marketing as boolean), false) as accepts_marketing,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at,
        cast(number_of_orders as integer) as shopify_order_count,
        cast(amount_spent_amount as numeric(14, 2)) as shopify_amount_spent,
        city,
        country_code,
        province_code
    from source
)

select * from final
