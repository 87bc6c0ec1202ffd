{#- Multi-touch attribution: one row per conversion (a Shopify order that was not cancelled) x
    touchpoint x model with a non-zero credit. Credits of one conversion sum to 1 under each model;
    `revenue_credit` = credit x the order's `total_price`, so per model the revenue credits add up to
    the attributed orders' revenue. Touchpoints are tracked sessions, Shopify's journey summary when
    the order had no tracked session, or a single `Unattributed` touch. `campaign_id` is the Meta
    or Google Ads campaign the touch's UTMs point at (`utm_id` = campaign id; for Meta also through the
    ad, `utm_content` = ad id, which is `ad_id`); `platform` names that campaign's ad platform
    (`meta_ads`, `google_ads`; null when none). -#}
with

credits as (
    select * from {{ ref('int_touchpoints_weighted') }}
),

touchpoints as (
    select * from {{ ref('int_touchpoints_collected') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where order_source = 'shopify' and not is_cancelled
),

ads as (
    select * from {{ ref('stg_meta_ads__ads') }}
),

campaigns as (
    select * from {{ ref('stg_meta_ads__campaigns') }}
),

google_campaigns as (
    select * from {{ ref('stg_google_ads__campaigns') }}
),

final as (
    select
        credits.attribution_id,
        credits.order_id,
        orders.customer_id,
        orders.ordered_at,
        {{ utc_date('orders.ordered_at') }} as conversion_date,
        credits.model,
        touchpoints.touchpoint_id,
        touchpoints.touch_number,
        touchpoints.touch_count,
        touchpoints.touchpoint_source,
        touchpoints.session_id,
        touchpoints.touch_at,
        touchpoints.hours_before_conversion,
        touchpoints.channel,
        touchpoints.utm_source,
        touchpoints.utm_medium,
        touchpoints.utm_campaign,
        case
            when campaigns.campaign_id is not null or ads.campaign_id is not null then 'meta_ads'
            when google_campaigns.campaign_id is not null then 'google_ads'
        end as platform,
        coalesce(campaigns.campaign_id, ads.campaign_id, google_campaigns.campaign_id) as campaign_id,
        ads.ad_id,
        credits.credit,
        orders.total_price as order_revenue,
        cast(orders.total_price * credits.credit as double precision) as revenue_credit
    from credits
    inner join touchpoints on credits.touchpoint_id = touchpoints.touchpoint_id
    inner join orders on credits.order_id = orders.order_id
    left join campaigns on touchpoints.utm_id = campaigns.campaign_id
    left join ads on touchpoints.utm_content = ads.ad_id
    left join google_campaigns on touchpoints.utm_id = google_campaigns.campaign_id
)

select * from final
