{#- The latest consent each browser (anonymous id) sent its events under: one row per visitor whose
    events carry `context.consent` (tracker.js v2, the Shopify Web Pixel). Consent is the visitor's
    choice of what may be done with their data, so a mart or an export that feeds marketing reads the
    latest choice, not the one of the event it happens to join.

    Incremental like the sessions: a run reads the events since the latest consent seen minus
    `incremental_lookback_days`, and for each visitor among them keeps the newer of its stored row and
    those events (delete+insert on `anonymous_id`), so a late event within the lookback never overrides
    a newer choice. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='anonymous_id',
        on_schema_change='fail',
    )
}}

with

consented as (
    select
        anonymous_id,
        event_at as consent_seen_at,
        event_id as consent_event_id,
        analytics_consent,
        marketing_consent,
        consent_source
    from {{ ref('stg_events__events') }}
    where
        anonymous_id is not null
        and (analytics_consent is not null or marketing_consent is not null)
        {% if is_incremental() -%}
        and event_at >= (
            select
                coalesce(max(built.consent_seen_at), '-infinity')
                - interval '{{ var("incremental_lookback_days") }} days'
            from {{ this }} as built
        )
        {%- endif %}
),

candidates as (
    select * from consented
    {% if is_incremental() -%}
    union all
    select
        built.anonymous_id,
        built.consent_seen_at,
        built.consent_event_id,
        built.analytics_consent,
        built.marketing_consent,
        built.consent_source
    from {{ this }} as built
    where built.anonymous_id in (select consented.anonymous_id from consented)
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by anonymous_id order by consent_seen_at desc, consent_event_id desc
        ) as recency_rank
    from candidates
),

final as (
    select
        anonymous_id,
        analytics_consent,
        marketing_consent,
        consent_source,
        consent_seen_at,
        consent_event_id
    from ranked
    where recency_rank = 1
)

select * from final
