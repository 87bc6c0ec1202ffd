{#- Every paid and unpaid channel per day in one long table: one row per date x channel x platform x
    campaign x attribution model. Delivery (spend, impressions, clicks, what the platform reports) comes
    from each ad platform (Meta as Paid Social, Google Ads as Paid Search: a further platform is one
    more union in `delivery`, `campaign_names` and `platform_channels`) and repeats on the row of every
    model; first-party attribution (conversions = summed credit, revenue and contribution margin =
    credit x the order's, new customers = credit of first orders) comes from fct_attribution under that
    model. Ratios are not stored: ROAS, CPA, CAC and POAS are a `group by` with one model filtered
    (docs/analyst_queries.md). Channels without spend (Email, Organic Search, ...) have platform and campaign null
    and zero spend; a platform's campaign with no attributed order that day has zero conversions. -#}
{%- set models = var('attribution_models') -%}
with

meta_insights as (
    select * from {{ ref('stg_meta_ads__ads_insights') }}
),

meta_campaigns as (
    select * from {{ ref('stg_meta_ads__campaigns') }}
),

google_daily as (
    select * from {{ ref('stg_google_ads__campaign_daily') }}
),

google_campaigns as (
    select * from {{ ref('stg_google_ads__campaigns') }}
),

platform_channels as (
    -- a platform's campaign is that platform's channel, whatever the touch's UTMs were grouped as
    select
        'meta_ads' as platform,
        'Paid Social' as channel
    union all
    select
        'google_ads' as platform,
        'Paid Search' as channel
),

attribution as (
    select * from {{ ref('fct_attribution') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

delivery as (
    select
        date_day,
        'meta_ads' as platform,
        'Paid Social' as channel,
        campaign_id,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(platform_purchases) as platform_conversions,
        sum(platform_purchase_value) as platform_conversion_value
    from meta_insights
    group by date_day, campaign_id
    union all
    select
        date_day,
        'google_ads' as platform,
        'Paid Search' as channel,
        campaign_id,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(platform_conversions) as platform_conversions,
        sum(platform_conversion_value) as platform_conversion_value
    from google_daily
    group by date_day, campaign_id
),

attribution_models as (
    {%- for model in models %}
    select '{{ model }}' as attribution_model
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

campaign_names as (
    select
        'meta_ads' as platform,
        campaign_id,
        campaign_name
    from meta_campaigns
    union all
    select
        'google_ads' as platform,
        campaign_id,
        campaign_name
    from google_campaigns
),

attributed as (
    select
        attribution.conversion_date as date_day,
        attribution.platform,
        coalesce(platform_channels.channel, attribution.channel) as channel,
        attribution.campaign_id,
        attribution.model as attribution_model,
        sum(attribution.credit) as attributed_conversions,
        sum(attribution.revenue_credit) as attributed_revenue,
        sum(attribution.credit * orders.contribution_margin) as attributed_contribution_margin,
        coalesce(sum(attribution.credit) filter (where orders.is_first_order), 0) as attributed_new_customers
    from attribution
    inner join orders on attribution.order_id = orders.order_id and orders.order_source = 'shopify'
    left join platform_channels on attribution.platform = platform_channels.platform
    group by
        attribution.conversion_date,
        attribution.platform,
        coalesce(platform_channels.channel, attribution.channel),
        attribution.campaign_id,
        attribution.model
),

facts as (
    select
        delivery.date_day,
        delivery.platform,
        delivery.channel,
        delivery.campaign_id,
        attribution_models.attribution_model,
        delivery.spend,
        delivery.impressions,
        delivery.clicks,
        delivery.platform_conversions,
        delivery.platform_conversion_value,
        0 as attributed_conversions,
        0 as attributed_revenue,
        0 as attributed_contribution_margin,
        0 as attributed_new_customers
    from delivery
    cross join attribution_models
    union all
    select
        date_day,
        platform,
        channel,
        campaign_id,
        attribution_model,
        0 as spend,
        0 as impressions,
        0 as clicks,
        0 as platform_conversions,
        0 as platform_conversion_value,
        attributed_conversions,
        attributed_revenue,
        attributed_contribution_margin,
        attributed_new_customers
    from attributed
),

combined as (
    select
        date_day,
        platform,
        channel,
        campaign_id,
        attribution_model,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(platform_conversions) as platform_conversions,
        sum(platform_conversion_value) as platform_conversion_value,
        sum(attributed_conversions) as attributed_conversions,
        sum(attributed_revenue) as attributed_revenue,
        sum(attributed_contribution_margin) as attributed_contribution_margin,
        sum(attributed_new_customers) as attributed_new_customers
    from facts
    group by date_day, platform, channel, campaign_id, attribution_model
),

final as (
    select
        combined.date_day,
        combined.channel,
        combined.platform,
        combined.campaign_id,
        campaign_names.campaign_name,
        combined.attribution_model,
        cast(combined.spend as numeric) as spend,
        cast(combined.impressions as bigint) as impressions,
        cast(combined.clicks as bigint) as clicks,
        cast(combined.platform_conversions as double precision) as platform_conversions,
        cast(combined.platform_conversion_value as numeric) as platform_conversion_value,
        cast(combined.attributed_conversions as double precision) as attributed_conversions,
        cast(combined.attributed_revenue as double precision) as attributed_revenue,
        cast(combined.attributed_contribution_margin as double precision) as attributed_contribution_margin,
        cast(combined.attributed_new_customers as double precision) as attributed_new_customers
    from combined
    left join campaign_names
        on combined.platform = campaign_names.platform and combined.campaign_id = campaign_names.campaign_id
)

select * from final
