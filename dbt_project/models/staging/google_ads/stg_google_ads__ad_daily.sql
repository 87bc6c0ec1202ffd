with

source as (
    select * from {{ source('google_ads', 'ad_daily') }}
),

final as (
    select
        cast(date as date) as date_day,
        cast(ad_id as text) as ad_id,
        cast(ad_group_id as text) as ad_group_id,
        cast(campaign_id as text) as campaign_id,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        cast(cost_micros as numeric) / 1000000 as spend,
        cast(conversions as double precision) as platform_conversions,
        cast(conversions_value as numeric) as platform_conversion_value
    from source
)

select * from final
