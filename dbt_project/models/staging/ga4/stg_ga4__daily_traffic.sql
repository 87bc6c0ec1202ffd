with

source as (
    select * from {{ source('ga4', 'daily_traffic') }}
),

final as (
    select
        to_date(cast(date as text), 'YYYYMMDD') as date_day,
        cast(property_id as text) as property_id,
        nullif(nullif(session_source, '(not set)'), '') as session_source,
        nullif(nullif(session_medium, '(not set)'), '') as session_medium,
        nullif(nullif(session_campaign_name, '(not set)'), '') as session_campaign,
        coalesce(nullif(lower(device_category), ''), 'unknown') as device_type,
        cast(sessions as bigint) as sessions,
        cast(engaged_sessions as bigint) as engaged_sessions,
        cast(add_to_carts as bigint) as add_to_carts,
        cast(checkouts as bigint) as checkouts,
        cast(ecommerce_purchases as bigint) as purchases,
        cast(total_users as bigint) as total_users,
        cast(new_users as bigint) as new_users,
        cast(purchase_revenue as numeric(14, 2)) as purchase_revenue
    from source
)

select * from final
