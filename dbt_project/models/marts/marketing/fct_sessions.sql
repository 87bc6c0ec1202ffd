{#- Sessionized first-party traffic (see int_sessions_aggregated for the rules), with the customer
    the browser belongs to as far as we know today, the ad platform's campaign (Meta or Google Ads) and the
    Meta ad the UTMs point at, and the
    visitor's session number.
    Funnel steps (`has_*` steps, their `*_at`, `minutes_to_purchase`) follow the `funnel_mode` var:
    `reached` (default) or `ordered` (int_sessions_aggregated stores both); the failure flags do not
    depend on it. `visitor_type`: 'new' on the browser's first session, else 'returning'.
    `customer_type`: 'returning' when the session's customer had a non-cancelled order (Shopify or the
    imported history) before the session started, else 'new' (also when no customer is known). -#}
{%- set prefix = 'ordered_' if funnel_mode() == 'ordered' else '' %}
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

google_campaigns as (
    select * from {{ ref('stg_google_ads__campaigns') }}
),

orders as (
    -- int_orders_unioned, not fct_orders: fct_orders reads the touchpoints, which read these sessions
    select * from {{ ref('int_orders_unioned') }}
),

first_orders as (
    select
        customer_id,
        min(ordered_at) as first_order_at
    from orders
    where customer_id is not null and not is_cancelled
    group by customer_id
),

numbered as (
    select
        *,
        row_number() over (partition by anonymous_id order by session_start, session_id) as session_number
    from sessions
),

final as (
    select
        numbered.session_id,
        numbered.anonymous_id,
        identities.customer_id,
        numbered.session_number,
        case when numbered.session_number = 1 then 'new' else 'returning' end as visitor_type,
        case
            when first_orders.first_order_at < numbered.session_start then 'returning' else 'new'
        end as customer_type,
        numbered.session_start,
        numbered.session_end,
        {{ utc_date('numbered.session_start') }} as session_date,
        extract(epoch from numbered.session_end - numbered.session_start) as duration_seconds,
        numbered.event_count,
        numbered.page_views,
        numbered.product_views,
        numbered.add_to_carts,
        numbered.device_type,
        numbered.landing_page,
        numbered.referrer_host,
        numbered.utm_source,
        numbered.utm_medium,
        numbered.utm_campaign,
        numbered.utm_id,
        numbered.utm_content,
        numbered.utm_term,
        numbered.fbclid is not null as has_fbclid,
        numbered.gclid is not null as has_gclid,
        numbered.channel,
        case
            when campaigns.campaign_id is not null or ads.campaign_id is not null then 'meta_ads'
            when google_campaigns.campaign_id is not null then 'google_ads'
        end as platform,
        coalesce(campaigns.campaign_id, ads.campaign_id, google_campaigns.campaign_id) as campaign_id,
        ads.ad_id,
        numbered.{{ prefix }}product_viewed_at is not null as has_product_view,
        numbered.{{ prefix }}added_to_cart_at is not null as has_add_to_cart,
        numbered.{{ prefix }}checkout_started_at is not null as has_checkout,
        numbered.{{ prefix }}payment_at is not null as has_payment,
        numbered.{{ prefix }}purchased_at is not null as has_purchase,
        numbered.has_payment_failure,
        numbered.has_checkout_error,
        numbered.{{ prefix }}product_viewed_at as product_viewed_at,
        numbered.{{ prefix }}added_to_cart_at as added_to_cart_at,
        numbered.{{ prefix }}checkout_started_at as checkout_started_at,
        numbered.{{ prefix }}payment_at as payment_at,
        numbered.{{ prefix }}purchased_at as purchased_at,
        extract(epoch from numbered.{{ prefix }}purchased_at - numbered.session_start) / 60.0 as minutes_to_purchase,
        numbered.orders,
        numbered.revenue
    from numbered
    left join identities on numbered.anonymous_id = identities.anonymous_id
    left join first_orders on identities.customer_id = first_orders.customer_id
    left join campaigns on numbered.utm_id = campaigns.campaign_id
    left join ads on numbered.utm_content = ads.ad_id
    left join google_campaigns on numbered.utm_id = google_campaigns.campaign_id
)

select * from final
