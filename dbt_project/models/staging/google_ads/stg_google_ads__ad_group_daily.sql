with

source as (
    select * from {{ source('google_ads', 'ad_group_daily') }}
),

final as (
    select
        cast(date as date) as date_day,
        cast(ad_group_id as text) as ad_group_id,
        cast(campaign_id as text) as campaign_id,
        {{ google_ads_metrics() }}
    from source
)

select * from final
