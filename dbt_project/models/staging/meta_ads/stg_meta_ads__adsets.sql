with

source as (
    select * from {{ source('meta_ads', 'adsets') }}
),

final as (
    select
        cast(id as text) as adset_id,
        cast(campaign_id as text) as campaign_id,
        name as adset_name,
        lower(status) as adset_status,
        cast(created_time as timestamptz) as created_at,
        cast(updated_time as timestamptz) as updated_at
    from source
)

select * from final
