with

source as (
    select * from {{ source('shopify', 'orders') }}
),

renamed as (
    select
        {{ shopify_id('id') }} as order_id,
        name as order_name,
        {{ shopify_id('customer_id') }} as customer_id,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at,
        cast(processed_at as timestamptz) as processed_at,
        cast(cancelled_at as timestamptz) as cancelled_at,
        coalesce(cast(test as boolean), false) as is_test,
        financial_status,
        {{ hash_pii('email', 'email') }} as email_hash,
        {{ hash_pii('phone', 'phone') }} as phone_hash,
        currency_code,
        cast(subtotal_amount as numeric(14, 2)) as subtotal_amount,
        cast(total_discounts_amount as numeric(14, 2)) as discount_amount,
        cast(total_price_amount as numeric(14, 2)) as total_price,
        cast(coalesce(total_shipping_amount, 0) as numeric(14, 2)) as shipping_amount,
        cast(coalesce(total_tax_amount, 0) as numeric(14, 2)) as tax_amount,
        cast(coalesce(total_refunded_amount, 0) as numeric(14, 2)) as refunded_amount,
        nullif(discount_codes, '') as discount_codes,
        nullif(journey_anonymous_id, '') as journey_anonymous_id,
        landing_page,
        referring_site,
        first_visit_source,
        first_visit_source_type,
        first_visit_landing_page,
        first_visit_referrer_url,
        cast(first_visit_occurred_at as timestamptz) as first_visit_at,
        first_visit_utm_source,
        first_visit_utm_medium,
        first_visit_utm_campaign,
        first_visit_utm_content,
        first_visit_utm_term,
        first_visit_utm_id,
        last_visit_source,
        last_visit_source_type,
        last_visit_landing_page,
        last_visit_referrer_url,
        cast(last_visit_occurred_at as timestamptz) as last_visit_at,
        last_visit_utm_source,
        last_visit_utm_medium,
        last_visit_utm_campaign,
        last_visit_utm_content,
        last_visit_utm_term,
        last_visit_utm_id
    from source
),

final as (
    select * from renamed
)

select * from final
