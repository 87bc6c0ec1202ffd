-- In every session and every funnel row, each step is reached by at most as many sessions as the step before.
{{ config(meta={'dagster': {'ref': {'name': 'fct_funnel_daily'}}}) }}

with

sessions as (
    select * from {{ ref('fct_sessions') }}
),

funnel as (
    select * from {{ ref('fct_funnel_daily') }}
),

bad_sessions as (
    select 'session ' || session_id as offender
    from sessions
    where
        (has_add_to_cart and not has_product_view)
        or (has_checkout and not has_add_to_cart)
        or (has_purchase and not has_checkout)
        or added_to_cart_at < product_viewed_at
        or checkout_started_at < added_to_cart_at
        or purchased_at < checkout_started_at
),

bad_rows as (
    select 'funnel ' || date_day || ' ' || channel || ' ' || device_type as offender
    from funnel
    where
        product_view_sessions > sessions
        or add_to_cart_sessions > product_view_sessions
        or checkout_sessions > add_to_cart_sessions
        or purchase_sessions > checkout_sessions
),

final as (
    select * from bad_sessions
    union all
    select * from bad_rows
)

select * from final
