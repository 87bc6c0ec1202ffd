with

source as (
    select * from {{ source('google_ads', 'campaigns') }}
),

final as (
    select
        cast(id as text) as campaign_id,
        name as campaign_name,
        lower(status) as campaign_status,
        lower(advertising_channel_type) as channel_type,
        lower(bidding_strategy_type) as bidding_strategy,
        cast(nullif(start_date, '') as date) as start_date,
        currency_code
    from source
)

select * from final
