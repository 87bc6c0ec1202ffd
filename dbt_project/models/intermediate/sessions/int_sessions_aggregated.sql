{#- Sessionized first-party events, one row per session.

    A session ends after `session_inactivity_minutes` without events (a gap of exactly that long starts a
    new one) and, when `session_split_on_campaign_change` is on, when an event arrives with campaign
    parameters different from the ones the visit carried so far (an untagged event never splits).
    The session's traffic source, landing page, device and click ids are those of its first event.
    Funnel steps count only in order: an add to cart after a product view, a checkout after that add,
    a purchase after that checkout. Events sent by a backend (`event_channel = 'server'`) are no visit:
    they stay in staging and never open or extend a session.

    Incremental: a run re-sessionizes, per visitor with events since the cutoff (the start of the
    latest session day minus `incremental_lookback_days`), everything from the cutoff or from the first
    session that an event after the cutoff could still extend, whichever is earlier; the visitor's older
    sessions are re-emitted unchanged, so delete+insert on `anonymous_id` replaces exactly that visitor's
    sessions. Events arriving later than the lookback (timestamped before the cutoff) need a full
    refresh. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='anonymous_id',
        on_schema_change='fail',
        pre_hook="set local work_mem = '{{ var(\"sessionization_work_mem\", \"256MB\") }}'",
        indexes=[
            {'columns': ['anonymous_id']},
            {'columns': ['session_start']},
            {'columns': ['session_end']},
        ],
    )
}}

{%- set inactivity = "interval '" ~ var('session_inactivity_minutes') ~ " minutes'" -%}

with

events as not materialized (
    -- not materialized: each use gets its own time filter pushed down into the scan of raw events
    select
        event_id,
        event_name,
        anonymous_id,
        customer_id,
        event_at,
        page_url,
        page_path,
        referrer_host,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_id,
        utm_content,
        utm_term,
        fbclid,
        gclid,
        device_type,
        order_id,
        revenue
    from {{ ref('stg_events__events') }}
    where
        anonymous_id is not null
        -- a backend's events (a renewal, a refund by support) are not a visit
        and event_channel is distinct from 'server'
),

{% if is_incremental() %}

cutoff as (
    select
        {{ utc_midnight(utc_date('max(session_start)')) }}
        - interval '{{ var("incremental_lookback_days") }} days' as cutoff_at
    from {{ this }}
),

reopened as (
    select
        built.anonymous_id,
        min(built.session_start) as resume_from
    from {{ this }} as built
    cross join cutoff
    where built.session_end >= cutoff.cutoff_at - {{ inactivity }}
    group by built.anonymous_id
),

touched as (
    select distinct events.anonymous_id
    from events
    cross join cutoff
    where events.event_at >= cutoff.cutoff_at
),

scope as (
    select
        touched.anonymous_id,
        least(reopened.resume_from, cutoff.cutoff_at) as resume_from
    from touched
    cross join cutoff
    left join reopened on touched.anonymous_id = reopened.anonymous_id
),

scoped_events as (
    select events.*
    from events
    inner join scope
        on
            events.anonymous_id = scope.anonymous_id
            and events.event_at >= scope.resume_from
    where events.event_at >= (select min(all_scopes.resume_from) from scope as all_scopes)
),

kept_sessions as (
    select built.*
    from {{ this }} as built
    inner join scope
        on
            built.anonymous_id = scope.anonymous_id
            and built.session_start < scope.resume_from
),

{% else %}

scoped_events as (
    select * from events
),

{% endif %}

keyed as (
    select
        *,
        case
            when
                coalesce(utm_source, utm_medium, utm_campaign, utm_id, utm_content, utm_term) is not null
                then concat_ws(
                    '|',
                    coalesce(utm_source, ''),
                    coalesce(utm_medium, ''),
                    coalesce(utm_campaign, ''),
                    coalesce(utm_id, ''),
                    coalesce(utm_content, ''),
                    coalesce(utm_term, '')
                )
        end as campaign_key,
        lag(event_at) over (partition by anonymous_id order by event_at, event_id) as previous_event_at
    from scoped_events
),

visits as (
    select
        *,
        previous_event_at is null or event_at - previous_event_at >= {{ inactivity }} as is_visit_start
    from keyed
),

carried as (
    {#- the campaign the visit carries before each event: the latest tagged event (or visit start)
        before it, encoded as a sortable `<epoch micros>|<campaign key>` string -#}
    select
        *,
        max(
            case
                when campaign_key is not null or is_visit_start
                    then
                        lpad(cast(cast(extract(epoch from event_at) * 1000000 as bigint) as text), 20, '0')
                        || '|' || coalesce(campaign_key, '')
            end
        ) over (
            partition by anonymous_id order by event_at, event_id
            rows between unbounded preceding and 1 preceding
        ) as carried_marker
    from visits
),

flagged as (
    select
        *,
        (
            is_visit_start
            {%- if var('session_split_on_campaign_change') %}
            or (
                campaign_key is not null
                and campaign_key is distinct from nullif(substr(carried_marker, 22), '')
            )
            {%- endif %}
        ) as is_session_start
    from carried
),

numbered as (
    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by anonymous_id order by event_at, event_id rows unbounded preceding
        ) as session_seq
    from flagged
),

session_starts as (
    select * from numbered
    where is_session_start
),

aggregated as (
    select
        anonymous_id,
        session_seq,
        max(event_at) as session_end,
        count(*) as event_count,
        count(*) filter (where event_name = 'Page Viewed') as page_views,
        count(*) filter (where event_name = 'Product Viewed') as product_views,
        count(*) filter (where event_name = 'Product Added') as add_to_carts,
        min(event_at) filter (where event_name = 'Product Viewed') as product_viewed_at,
        array_agg(event_at) filter (where event_name = 'Product Added') as add_to_cart_times,
        array_agg(event_at) filter (where event_name = 'Checkout Started') as checkout_times,
        array_agg(event_at) filter (where event_name = 'Order Completed') as purchase_times,
        count(distinct order_id) filter (where event_name = 'Order Completed') as orders,
        coalesce(sum(revenue) filter (where event_name = 'Order Completed'), 0) as revenue,
        min(event_at) filter (where customer_id is not null) as identified_at,
        (array_agg(customer_id order by event_at, event_id) filter (where customer_id is not null))[1]
            as identified_customer_id
    from numbered
    group by anonymous_id, session_seq
),

added as (
    select
        *,
        (
            select min(t.event_at) from unnest(add_to_cart_times) as t (event_at)
            where t.event_at >= product_viewed_at
        )
            as added_to_cart_at
    from aggregated
),

checked_out as (
    select
        *,
        (
            select min(t.event_at) from unnest(checkout_times) as t (event_at)
            where t.event_at >= added_to_cart_at
        )
            as checkout_started_at
    from added
),

purchased as (
    select
        *,
        (
            select min(t.event_at) from unnest(purchase_times) as t (event_at)
            where t.event_at >= checkout_started_at
        )
            as purchased_at
    from checked_out
),

sessions as (
    select
        md5(session_starts.anonymous_id || '|' || session_starts.event_id) as session_id,
        session_starts.anonymous_id,
        session_starts.event_at as session_start,
        purchased.session_end,
        purchased.event_count,
        purchased.page_views,
        purchased.product_views,
        purchased.add_to_carts,
        session_starts.device_type,
        session_starts.page_path as landing_page,
        session_starts.page_url as landing_page_url,
        session_starts.referrer_host,
        session_starts.utm_source,
        session_starts.utm_medium,
        session_starts.utm_campaign,
        session_starts.utm_id,
        session_starts.utm_content,
        session_starts.utm_term,
        session_starts.fbclid,
        session_starts.gclid,
        {{ channel_group(
            'session_starts.utm_source', 'session_starts.utm_medium', 'session_starts.utm_campaign',
            'session_starts.referrer_host', 'session_starts.gclid', 'session_starts.fbclid'
        ) }} as channel,
        purchased.product_viewed_at,
        purchased.added_to_cart_at,
        purchased.checkout_started_at,
        purchased.purchased_at,
        purchased.orders,
        purchased.revenue,
        purchased.identified_customer_id,
        purchased.identified_at
    from session_starts
    inner join purchased
        on
            session_starts.anonymous_id = purchased.anonymous_id
            and session_starts.session_seq = purchased.session_seq
),

final as (
    select * from sessions
    {% if is_incremental() %}
    union all
    select * from kept_sessions
    {% endif %}
)

select * from final
