with

source as (
    select * from {{ source('meta_ads', 'ads') }}
),

final as (
    select
        cast(id as text) as ad_id,
        cast(adset_id as text) as adset_id,
        cast(campaign_id as text) as campaign_id,
        name as ad_name,
        lower(status) as ad_status,
        cast(created_time as timestamptz) as created_at,
        cast(updated_time as timestamptz) as updated_at,
        url_tags
    from source
)

select * from final
