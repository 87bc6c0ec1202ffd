with

source as (
    select * from {{ source('google_ads', 'ad_groups') }}
),

final as (
    select
        cast(id as text) as ad_group_id,
        cast(campaign_id as text) as campaign_id,
        name as ad_group_name,
        lower(status) as ad_group_status,
        lower(type) as ad_group_type
    from source
)

select * from final
