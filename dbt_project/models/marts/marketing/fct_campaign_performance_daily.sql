{#- Meta campaigns per day: what Meta reports (spend, impressions, clicks, purchases and purchase value
    from its `purchase` actions, as restated so far) next to what first-party attribution gives the
    campaign under each model (conversions = summed credit, revenue = summed revenue credit), with ROAS
    (revenue / spend) and CPA (spend / conversions) for the platform's numbers and for every model.
    Days with attributed conversions but no delivery appear with zero spend. -#}
{%- set models = var('attribution_models') -%}
with

insights as (
    select * from {{ ref('stg_meta_ads__ads_insights') }}
),

campaigns as (
    select * from {{ ref('stg_meta_ads__campaigns') }}
),

attribution as (
    -- Meta's campaigns only: Google Ads campaigns are in fct_channel_performance_daily
    select * from {{ ref('fct_attribution') }}
    where platform = 'meta_ads'
),

delivery as (
    select
        date_day,
        campaign_id,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(platform_purchases) as platform_purchases,
        sum(platform_purchase_value) as platform_purchase_value
    from insights
    group by date_day, campaign_id
),

attributed as (
    select
        conversion_date as date_day,
        campaign_id,
        {%- for model in models %}
        sum(credit) filter (where model = '{{ model }}') as conversions_{{ model }},
        sum(revenue_credit) filter (where model = '{{ model }}') as revenue_{{ model }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from attribution
    group by conversion_date, campaign_id
),

spine as (
    select
        date_day,
        campaign_id
    from delivery
    union
    select
        date_day,
        campaign_id
    from attributed
),

final as (
    select
        spine.date_day,
        spine.campaign_id,
        campaigns.campaign_name,
        campaigns.objective,
        coalesce(delivery.spend, 0) as spend,
        coalesce(delivery.impressions, 0) as impressions,
        coalesce(delivery.clicks, 0) as clicks,
        1.0 * delivery.clicks / nullif(delivery.impressions, 0) as ctr,
        delivery.spend / nullif(delivery.clicks, 0) as cpc,
        coalesce(delivery.platform_purchases, 0) as platform_purchases,
        coalesce(delivery.platform_purchase_value, 0) as platform_purchase_value,
        delivery.platform_purchase_value / nullif(delivery.spend, 0) as platform_roas,
        delivery.spend / nullif(delivery.platform_purchases, 0) as platform_cpa,
        {%- for model in models %}
        coalesce(attributed.conversions_{{ model }}, 0) as conversions_{{ model }},
        coalesce(attributed.revenue_{{ model }}, 0) as revenue_{{ model }},
        attributed.revenue_{{ model }} / nullif(delivery.spend, 0) as roas_{{ model }},
        delivery.spend / nullif(attributed.conversions_{{ model }}, 0) as cpa_{{ model }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from spine
    left join campaigns on spine.campaign_id = campaigns.campaign_id
    left join delivery on spine.date_day = delivery.date_day and spine.campaign_id = delivery.campaign_id
    left join attributed on spine.date_day = attributed.date_day and spine.campaign_id = attributed.campaign_id
)

select * from final
