{#- Sessionized first-party events, one row per session.

    A session ends after `session_inactivity_minutes` without events (a gap of exactly that long starts a
    new one) and, when `session_split_on_campaign_change` is on, when an event arrives with campaign
    parameters different from the ones the visit carried so far (an untagged event never splits).
    The session's traffic source, landing page, device and click ids are those of its first event.
    Events sent by a backend (`event_channel = 'server'`) are no visit: they stay in staging and never
    open or extend a session.

    Funnel steps: the `funnel_steps` seed says which event names mark which step (product_view,
    add_to_cart, checkout, payment, purchase; a `payment_failed` event marks the payment step, a
    `checkout_error` the checkout step, and each sets its flag). Both modes are stored, so the
    `funnel_mode` var (read by fct_sessions) can change without a rebuild of this model:
    - reached (`product_viewed_at` ... `purchased_at`): a step is reached if the session has an event of
      it or of any later step, in any order; its time is the earliest such event (so the times never
      decrease along the funnel and a purchase is never lost to clock skew or a loop);
    - ordered (`ordered_*`): today's strict order: an add to cart at or after the first product view, a
      checkout at or after that add, a purchase at or after that checkout; payment is an event of the
      payment step at or after that checkout, or else the purchase (a shop that sends no payment
      events still has purchases; a purchase implies the payment).
    A changed seed or new columns (an upgrade) need `--full-refresh` of this model: see `required`.

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

{#- The incremental run unions freshly built sessions with kept rows of the existing table by position:
    a table built before a column was added (e.g. before the payment step and the two funnel modes)
    would fail with a bare Postgres UNION error, so say what to run instead. -#}
{%- if execute and is_incremental() -%}
    {%- set required = ['payment_at', 'ordered_purchased_at', 'has_payment_failure', 'has_checkout_error'] -%}
    {%- set built = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set missing = required | reject('in', built) | list -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            this ~ " was built before its columns " ~ missing | join(', ') ~ " existed (funnel steps "
            ~ "from the funnel_steps seed): rebuild it once with `journey dbt build --full-refresh "
            ~ "--select int_sessions_aggregated+` (docs/events.md, 'Funnel')"
        ) }}
    {%- endif -%}
{%- endif %}

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

steps as (
    select
        event_name,
        step
    from {{ ref('funnel_steps') }}
),

marked as (
    {#- the step each event marks (null: no funnel step); failure roles mark the step they happen in -#}
    select
        numbered.*,
        steps.step as step_role,
        case steps.step
            when 'payment_failed' then 'payment'
            when 'checkout_error' then 'checkout'
            else steps.step
        end as step
    from numbered
    left join steps on numbered.event_name = steps.event_name
),

aggregated as (
    select
        anonymous_id,
        session_seq,
        max(event_at) as session_end,
        count(*) as event_count,
        count(*) filter (where event_name = 'Page Viewed') as page_views,
        count(*) filter (where step_role = 'product_view') as product_views,
        count(*) filter (where step_role = 'add_to_cart') as add_to_carts,
        min(event_at) filter (where step = 'product_view') as first_product_view_at,
        min(event_at) filter (where step = 'add_to_cart') as first_add_to_cart_at,
        min(event_at) filter (where step = 'checkout') as first_checkout_at,
        min(event_at) filter (where step = 'payment') as first_payment_at,
        min(event_at) filter (where step = 'purchase') as first_purchase_at,
        array_agg(event_at) filter (where step = 'add_to_cart') as add_to_cart_times,
        array_agg(event_at) filter (where step = 'checkout') as checkout_times,
        array_agg(event_at) filter (where step = 'payment') as payment_times,
        array_agg(event_at) filter (where step = 'purchase') as purchase_times,
        count(*) filter (where step_role = 'payment_failed') > 0 as has_payment_failure,
        count(*) filter (where step_role = 'checkout_error') > 0 as has_checkout_error,
        count(distinct order_id) filter (where step = 'purchase') as orders,
        coalesce(sum(revenue) filter (where step = 'purchase'), 0) as revenue,
        min(event_at) filter (where customer_id is not null) as identified_at,
        (array_agg(customer_id order by event_at, event_id) filter (where customer_id is not null))[1]
            as identified_customer_id
    from marked
    group by anonymous_id, session_seq
),

reached as (
    {#- the earliest event of each step or of any later step (least() skips nulls) -#}
    select
        *,
        least(first_product_view_at, first_add_to_cart_at, first_checkout_at, first_payment_at, first_purchase_at)
            as product_viewed_at,
        least(first_add_to_cart_at, first_checkout_at, first_payment_at, first_purchase_at) as added_to_cart_at,
        least(first_checkout_at, first_payment_at, first_purchase_at) as checkout_started_at,
        least(first_payment_at, first_purchase_at) as payment_at,
        first_purchase_at as purchased_at
    from aggregated
),

added as (
    select
        *,
        (
            select min(t.event_at) from unnest(add_to_cart_times) as t (event_at)
            where t.event_at >= first_product_view_at
        )
            as ordered_added_to_cart_at
    from reached
),

checked_out as (
    select
        *,
        (
            select min(t.event_at) from unnest(checkout_times) as t (event_at)
            where t.event_at >= ordered_added_to_cart_at
        )
            as ordered_checkout_started_at
    from added
),

purchased as (
    select
        *,
        (
            select min(t.event_at) from unnest(purchase_times) as t (event_at)
            where t.event_at >= ordered_checkout_started_at
        )
            as ordered_purchased_at
    from checked_out
),

paid as (
    select
        *,
        least(
            (
                select min(t.event_at) from unnest(payment_times) as t (event_at)
                where t.event_at >= ordered_checkout_started_at
            ),
            ordered_purchased_at
        )
            as ordered_payment_at
    from purchased
),

sessions as (
    select
        md5(session_starts.anonymous_id || '|' || session_starts.event_id) as session_id,
        session_starts.anonymous_id,
        session_starts.event_at as session_start,
        paid.session_end,
        paid.event_count,
        paid.page_views,
        paid.product_views,
        paid.add_to_carts,
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
        paid.product_viewed_at,
        paid.added_to_cart_at,
        paid.checkout_started_at,
        paid.payment_at,
        paid.purchased_at,
        paid.first_product_view_at as ordered_product_viewed_at,
        paid.ordered_added_to_cart_at,
        paid.ordered_checkout_started_at,
        paid.ordered_payment_at,
        paid.ordered_purchased_at,
        paid.has_payment_failure,
        paid.has_checkout_error,
        paid.orders,
        paid.revenue,
        paid.identified_customer_id,
        paid.identified_at
    from session_starts
    inner join paid
        on
            session_starts.anonymous_id = paid.anonymous_id
            and session_starts.session_seq = paid.session_seq
),

final as (
    select * from sessions
    {% if is_incremental() %}
    union all
    select * from kept_sessions
    {% endif %}
)

select * from final
