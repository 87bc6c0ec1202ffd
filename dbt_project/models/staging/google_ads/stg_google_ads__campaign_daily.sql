with

source as (
    select * from {{ source('google_ads', 'campaign_daily') }}
),

final as (
    select
        cast(date as date) as date_day,
        cast(campaign_id as text) as campaign_id,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        -- Google reports cost in micros of the account currency
        cast(cost_micros as numeric) / 1000000 as spend,
        cast(conversions as double precision) as platform_conversions,
        cast(conversions_value as numeric) as platform_conversion_value
    from source
)

select * from final
