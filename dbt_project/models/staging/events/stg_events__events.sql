{#- One row per tracked event. Page views are named `Page Viewed` so every row has an event name;
    the tracker's `userId` is the customer id (macro `customer_key`: the Shopify customer id, or any
    other id string as a key, the same key the order-history export's ids get). Referrers on the shop's
    own host are internal navigation, not traffic sources, so `referrer_host` is null for them.

    Consent (docs/events.md, "Consent"): `analytics_consent` / `marketing_consent` are the visitor's
    choice the event was sent under (`context.consent`; null for events of senders that record none).
    Click ids are advertising identifiers, so an event sent without marketing consent keeps none, even
    when a sender other than tracker.js (which already drops them) sent some. `event_channel` says who sent
    the event: tracker.js (`browser`), the Shopify Web Pixel (`pixel`), a backend (`server`), Segment's
    mobile libraries (`mobile`); any other value a sender puts there is `other` (kept countable, never a
    failed build). -#}
with

source as (
    select * from {{ source('events', 'events') }}
),

renamed as (
    select
        cast(message_id as text) as event_id,
        lower(type) as event_type,
        case
            when lower(type) = 'page' then 'Page Viewed'
            when lower(type) = 'identify' then 'Identify'
            else event
        end as event_name,
        anonymous_id,
        {{ customer_key('user_id') }} as customer_id,
        cast(timestamp as timestamptz) as event_at,
        cast(sent_at as timestamptz) as sent_at,
        cast(received_at as timestamptz) as received_at,
        page_url,
        page_path,
        page_referrer,
        {{ url_host('page_referrer') }} as referrer_host_raw,
        {{ url_host('page_url') }} as page_host,
        nullif(utm_source, '') as utm_source,
        nullif(utm_medium, '') as utm_medium,
        nullif(utm_campaign, '') as utm_campaign,
        nullif(cast(utm_id as text), '') as utm_id,
        nullif(cast(utm_content as text), '') as utm_content,
        nullif(utm_term, '') as utm_term,
        nullif(fbclid, '') as fbclid_raw,
        nullif(gclid, '') as gclid_raw,
        case
            when coalesce(nullif(context ->> 'channel', ''), 'browser') in ('browser', 'pixel', 'server', 'mobile')
                then coalesce(nullif(context ->> 'channel', ''), 'browser')
            else 'other'
        end as event_channel,
        case
            when jsonb_typeof(context -> 'consent' -> 'analytics') = 'boolean'
                then cast(context -> 'consent' ->> 'analytics' as boolean)
        end as analytics_consent,
        case
            when jsonb_typeof(context -> 'consent' -> 'marketing') = 'boolean'
                then cast(context -> 'consent' ->> 'marketing' as boolean)
        end as marketing_consent,
        case
            when context -> 'consent' ->> 'source' in ('default', 'visitor', 'shopify')
                then context -> 'consent' ->> 'source'
            when nullif(context -> 'consent' ->> 'source', '') is not null then 'other'
        end as consent_source,
        coalesce(nullif(lower(device_type), ''), 'unknown') as device_type,
        {{ shopify_id('cast(product_id as text)') }} as product_id,
        {{ shopify_id('cast(order_id as text)') }} as order_id,
        cast(revenue as numeric(14, 2)) as revenue
    from source
),

final as (
    select
        event_id,
        event_type,
        event_name,
        anonymous_id,
        customer_id,
        event_at,
        sent_at,
        received_at,
        page_url,
        page_path,
        page_referrer,
        case when referrer_host_raw = page_host then null else referrer_host_raw end as referrer_host,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_id,
        utm_content,
        utm_term,
        case when coalesce(marketing_consent, true) then fbclid_raw end as fbclid,
        case when coalesce(marketing_consent, true) then gclid_raw end as gclid,
        device_type,
        product_id,
        order_id,
        revenue,
        event_channel,
        analytics_consent,
        marketing_consent,
        consent_source
    from renamed
)

select * from final
