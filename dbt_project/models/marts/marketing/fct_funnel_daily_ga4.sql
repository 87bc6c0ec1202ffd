{#- GA4's own view of the funnel per day x channel x device, for comparison with fct_funnel_daily.
    GA4 counts events (add_to_carts, checkouts) rather than sessions reaching a step and has no product
    view step in this report, so its rates are not bounded by 1. Channels use the same grouping
    rules on GA4's session source / medium / campaign. -#}
with

traffic as (
    select * from {{ ref('stg_ga4__daily_traffic') }}
),

classified as (
    select
        *,
        {{ channel_group('session_source', 'session_medium', 'session_campaign', 'null', 'null', 'null') }}
            as channel
    from traffic
),

daily as (
    select
        date_day,
        channel,
        device_type,
        sum(sessions) as sessions,
        sum(engaged_sessions) as engaged_sessions,
        sum(add_to_carts) as add_to_carts,
        sum(checkouts) as checkouts,
        sum(purchases) as purchases,
        sum(purchase_revenue) as purchase_revenue,
        sum(total_users) as total_users,
        sum(new_users) as new_users
    from classified
    group by date_day, channel, device_type
),

final as (
    select
        date_day,
        channel,
        device_type,
        sessions,
        engaged_sessions,
        add_to_carts,
        checkouts,
        purchases,
        purchase_revenue,
        total_users,
        new_users,
        1.0 * engaged_sessions / nullif(sessions, 0) as engagement_rate,
        1.0 * add_to_carts / nullif(sessions, 0) as add_to_carts_per_session,
        1.0 * checkouts / nullif(add_to_carts, 0) as checkouts_per_add_to_cart,
        1.0 * purchases / nullif(checkouts, 0) as purchases_per_checkout,
        1.0 * purchases / nullif(sessions, 0) as session_conversion_rate
    from daily
)

select * from final
