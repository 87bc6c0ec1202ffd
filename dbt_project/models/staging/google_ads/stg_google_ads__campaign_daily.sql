with

source as (
    select * from {{ source('google_ads', 'campaign_daily') }}
),

final as (
    select
        cast(date as date) as date_day,
        cast(campaign_id as text) as campaign_id,
        {{ google_ads_metrics() }}
    from source
)

select * from final
