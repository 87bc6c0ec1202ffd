{#- The touchpoints of every Shopify order (the conversions): the customer's sessions that started in
    the `attribution_lookback_days` before the order, found through the tracker id on the order and
    through every browser linked to the customer by then (links made after the order are not used, so
    history never changes once written). An order with no tracked session falls back to Shopify's
    customer journey summary (first and last visit); an order with neither gets one `unattributed`
    touch, so no conversion is ever dropped.

    Incremental: orders since the latest order day minus `incremental_lookback_days` are recomputed
    (delete+insert on `order_id`). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        on_schema_change='fail',
        indexes=[{'columns': ['order_id']}],
    )
}}

{%- set lookback = "interval '" ~ var('attribution_lookback_days') ~ " days'" -%}

with

all_orders as (
    select * from {{ ref('int_orders_unioned') }}
    where order_source = 'shopify'
),

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

identities as (
    select * from {{ ref('int_identities_resolved') }}
),

orders as (
    select * from all_orders
    {% if is_incremental() %}
    where
        ordered_at >= (
            select
                {{ utc_midnight(utc_date('max(ordered_at)')) }}
                - interval '{{ var("incremental_lookback_days") }} days'
            from {{ this }}
        )
    {% endif %}
),

scoped_sessions as (
    select * from sessions
    where session_start >= (select min(orders.ordered_at) from orders) - {{ lookback }}
),

by_order_browser as (
    select
        orders.order_id,
        scoped_sessions.session_id
    from orders
    inner join scoped_sessions
        on
            orders.journey_anonymous_id = scoped_sessions.anonymous_id
            and scoped_sessions.session_start <= orders.ordered_at
            and scoped_sessions.session_start >= orders.ordered_at - {{ lookback }}
),

by_customer_browsers as (
    select
        orders.order_id,
        scoped_sessions.session_id
    from orders
    inner join identities
        on
            orders.customer_id = identities.customer_id
            and identities.first_linked_at <= orders.ordered_at
    inner join scoped_sessions
        on
            identities.anonymous_id = scoped_sessions.anonymous_id
            and scoped_sessions.session_start <= orders.ordered_at
            and scoped_sessions.session_start >= orders.ordered_at - {{ lookback }}
),

tracked_pairs as (
    select * from by_order_browser
    union
    select * from by_customer_browsers
),

tracked as (
    select
        orders.order_id,
        'tracked' as touchpoint_source,
        scoped_sessions.session_id,
        scoped_sessions.anonymous_id,
        scoped_sessions.session_start as touch_at,
        scoped_sessions.channel,
        scoped_sessions.utm_source,
        scoped_sessions.utm_medium,
        scoped_sessions.utm_campaign,
        scoped_sessions.utm_id,
        scoped_sessions.utm_content,
        scoped_sessions.referrer_host,
        scoped_sessions.device_type
    from tracked_pairs
    inner join orders on tracked_pairs.order_id = orders.order_id
    inner join scoped_sessions on tracked_pairs.session_id = scoped_sessions.session_id
),

untracked_orders as (
    select orders.*
    from orders
    where not exists (
        select 1 from tracked_pairs
        where tracked_pairs.order_id = orders.order_id
    )
),

journey_orders as (
    select * from {{ ref('stg_shopify__orders') }}
),

journey_visits as (
    {#- Shopify's customerJourneySummary: first and last visit (one touch when they are the same) -#}
    select
        untracked_orders.order_id,
        'first_visit' as visit,
        coalesce(journey_orders.first_visit_at, untracked_orders.ordered_at) as touch_at,
        journey_orders.first_visit_utm_source as utm_source,
        journey_orders.first_visit_utm_medium as utm_medium,
        journey_orders.first_visit_utm_campaign as utm_campaign,
        journey_orders.first_visit_utm_id as utm_id,
        journey_orders.first_visit_utm_content as utm_content,
        {{ url_host('journey_orders.first_visit_referrer_url') }} as referrer_host,
        {{ url_parameter('journey_orders.first_visit_landing_page', 'gclid') }} as gclid,
        {{ url_parameter('journey_orders.first_visit_landing_page', 'fbclid') }} as fbclid
    from untracked_orders
    inner join journey_orders on untracked_orders.order_id = journey_orders.order_id
    where
        journey_orders.first_visit_at is not null
        or journey_orders.first_visit_source is not null
        or journey_orders.first_visit_utm_source is not null

    union all

    select
        untracked_orders.order_id,
        'last_visit' as visit,
        coalesce(journey_orders.last_visit_at, untracked_orders.ordered_at) as touch_at,
        journey_orders.last_visit_utm_source as utm_source,
        journey_orders.last_visit_utm_medium as utm_medium,
        journey_orders.last_visit_utm_campaign as utm_campaign,
        journey_orders.last_visit_utm_id as utm_id,
        journey_orders.last_visit_utm_content as utm_content,
        {{ url_host('journey_orders.last_visit_referrer_url') }} as referrer_host,
        {{ url_parameter('journey_orders.last_visit_landing_page', 'gclid') }} as gclid,
        {{ url_parameter('journey_orders.last_visit_landing_page', 'fbclid') }} as fbclid
    from untracked_orders
    inner join journey_orders on untracked_orders.order_id = journey_orders.order_id
    where
        (
            journey_orders.last_visit_at is not null
            or journey_orders.last_visit_source is not null
            or journey_orders.last_visit_utm_source is not null
        )
        and (
            journey_orders.first_visit_at is null
            or journey_orders.last_visit_at is distinct from journey_orders.first_visit_at
        )
),

journey as (
    select
        order_id,
        'shopify_journey' as touchpoint_source,
        cast(null as text) as session_id,
        cast(null as text) as anonymous_id,
        touch_at,
        {{ channel_group('utm_source', 'utm_medium', 'utm_campaign', 'referrer_host', 'gclid', 'fbclid') }}
            as channel,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_id,
        utm_content,
        referrer_host,
        cast(null as text) as device_type
    from journey_visits
),

unattributed as (
    select
        untracked_orders.order_id,
        'unattributed' as touchpoint_source,
        cast(null as text) as session_id,
        cast(null as text) as anonymous_id,
        untracked_orders.ordered_at as touch_at,
        'Unattributed' as channel,
        cast(null as text) as utm_source,
        cast(null as text) as utm_medium,
        cast(null as text) as utm_campaign,
        cast(null as text) as utm_id,
        cast(null as text) as utm_content,
        cast(null as text) as referrer_host,
        cast(null as text) as device_type
    from untracked_orders
    where not exists (
        select 1 from journey_visits
        where journey_visits.order_id = untracked_orders.order_id
    )
),

touches as (
    select * from tracked
    union all
    select * from journey
    union all
    select * from unattributed
),

numbered as (
    select
        touches.*,
        orders.customer_id,
        orders.ordered_at,
        row_number() over (
            partition by touches.order_id
            order by touches.touch_at, touches.touchpoint_source, touches.session_id
        ) as touch_number,
        count(*) over (partition by touches.order_id) as touch_count
    from touches
    inner join orders on touches.order_id = orders.order_id
),

final as (
    select
        md5(order_id || '|' || touch_number) as touchpoint_id,
        order_id,
        customer_id,
        ordered_at,
        touch_number,
        touch_count,
        touchpoint_source,
        session_id,
        anonymous_id,
        touch_at,
        greatest(extract(epoch from ordered_at - touch_at) / 3600.0, 0) as hours_before_conversion,
        channel,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_id,
        utm_content,
        referrer_host,
        device_type
    from numbered
)

select * from final
