with

source as (
    select * from {{ source('google_ads', 'ads') }}
),

final as (
    select
        cast(id as text) as ad_id,
        cast(ad_group_id as text) as ad_group_id,
        cast(campaign_id as text) as campaign_id,
        name as ad_name,
        lower(type) as ad_type,
        lower(status) as ad_status
    from source
)

select * from final
