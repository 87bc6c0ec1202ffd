{#- Platform-reported purchases: Meta reports the same purchases under `purchase` and (for pixel
    shops) `offsite_conversion.fb_pixel_purchase`; take `purchase` when present so they are not
    counted twice. -#}
with

source as (
    select * from {{ source('meta_ads', 'ads_insights') }}
),

purchases as (
    select
        source._dlt_id,
        coalesce(
            max(case when entry.item ->> 'action_type' = 'purchase' then cast(entry.item ->> 'value' as numeric) end),
            max(
                case
                    when entry.item ->> 'action_type' = 'offsite_conversion.fb_pixel_purchase'
                        then cast(entry.item ->> 'value' as numeric)
                end
            )
        ) as purchases
    from source
    cross join lateral jsonb_array_elements(coalesce(cast(source.actions as jsonb), cast('[]' as jsonb))) as entry (item)
    group by source._dlt_id
),

purchase_values as (
    select
        source._dlt_id,
        coalesce(
            max(case when entry.item ->> 'action_type' = 'purchase' then cast(entry.item ->> 'value' as numeric) end),
            max(
                case
                    when entry.item ->> 'action_type' = 'offsite_conversion.fb_pixel_purchase'
                        then cast(entry.item ->> 'value' as numeric)
                end
            )
        ) as purchase_value
    from source
    cross join lateral jsonb_array_elements(coalesce(cast(source.action_values as jsonb), cast('[]' as jsonb))) as entry (item)
    group by source._dlt_id
),

final as (
    select
        cast(source.date_start as date) as date_day,
        cast(source.account_id as text) as account_id,
        cast(source.campaign_id as text) as campaign_id,
        source.campaign_name,
        cast(source.adset_id as text) as adset_id,
        cast(source.ad_id as text) as ad_id,
        source.ad_name,
        cast(nullif(cast(source.spend as text), '') as numeric(14, 2)) as spend,
        cast(nullif(cast(source.impressions as text), '') as bigint) as impressions,
        cast(nullif(cast(source.clicks as text), '') as bigint) as clicks,
        cast(nullif(cast(source.reach as text), '') as bigint) as reach,
        coalesce(purchases.purchases, 0) as platform_purchases,
        cast(coalesce(purchase_values.purchase_value, 0) as numeric(14, 2)) as platform_purchase_value
    from source
    left join purchases on source._dlt_id = purchases._dlt_id
    left join purchase_values on source._dlt_id = purchase_values._dlt_id
)

select * from final
