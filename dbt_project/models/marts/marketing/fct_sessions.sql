{#- Sessionized first-party traffic (see int_sessions_aggregated for the rules), with the customer
    the browser belongs to as far as we know today, the Meta campaign/ad the UTMs point at, and the
    visitor's session number. -#}
with

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

identities as (
    select * from {{ ref('int_identities_resolved') }}
),

ads as (
    select * from {{ ref('stg_meta_ads__ads') }}
),

campaigns as (
    select * from {{ ref('stg_meta_ads__campaigns') }}
),

final as (
    select
        sessions.session_id,
        sessions.anonymous_id,
        identities.customer_id,
        row_number() over (
            partition by sessions.anonymous_id order by sessions.session_start, sessions.session_id
        ) as session_number,
        sessions.session_start,
        sessions.session_end,
        {{ utc_date('sessions.session_start') }} as session_date,
        extract(epoch from sessions.session_end - sessions.session_start) as duration_seconds,
        sessions.event_count,
        sessions.page_views,
        sessions.product_views,
        sessions.add_to_carts,
        sessions.device_type,
        sessions.landing_page,
        sessions.referrer_host,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign,
        sessions.utm_id,
        sessions.utm_content,
        sessions.utm_term,
        sessions.fbclid is not null as has_fbclid,
        sessions.gclid is not null as has_gclid,
        sessions.channel,
        coalesce(campaigns.campaign_id, ads.campaign_id) as campaign_id,
        ads.ad_id,
        sessions.product_viewed_at is not null as has_product_view,
        sessions.added_to_cart_at is not null as has_add_to_cart,
        sessions.checkout_started_at is not null as has_checkout,
        sessions.purchased_at is not null as has_purchase,
        sessions.product_viewed_at,
        sessions.added_to_cart_at,
        sessions.checkout_started_at,
        sessions.purchased_at,
        extract(epoch from sessions.purchased_at - sessions.session_start) / 60.0 as minutes_to_purchase,
        sessions.orders,
        sessions.revenue
    from sessions
    left join identities on sessions.anonymous_id = identities.anonymous_id
    left join campaigns on sessions.utm_id = campaigns.campaign_id
    left join ads on sessions.utm_content = ads.ad_id
)

select * from final
