with

source as (
    select * from {{ source('meta_ads', 'campaigns') }}
),

final as (
    select
        cast(id as text) as campaign_id,
        cast(account_id as text) as account_id,
        name as campaign_name,
        objective,
        lower(status) as campaign_status,
        -- the Graph API returns budgets in the account currency's minor unit (cents)
        cast(nullif(cast(daily_budget as text), '') as numeric(14, 2)) / 100 as daily_budget,
        cast(created_time as timestamptz) as created_at,
        cast(updated_time as timestamptz) as updated_at
    from source
)

select * from final
