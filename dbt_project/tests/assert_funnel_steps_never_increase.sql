-- In every session and every funnel row, each step is reached by at most as many sessions as the step
-- before (product view >= add to cart >= checkout >= payment >= purchase), in either funnel_mode, and
-- a session's step times never decrease along the funnel.
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
        or (has_payment and not has_checkout)
        or (has_purchase and not has_payment)
        or added_to_cart_at < product_viewed_at
        or checkout_started_at < added_to_cart_at
        or payment_at < checkout_started_at
        or purchased_at < payment_at
),

bad_rows as (
    select concat_ws(' ', 'funnel', date_day, channel, device_type, visitor_type, customer_type) as offender
    from funnel
    where
        product_view_sessions > sessions
        or add_to_cart_sessions > product_view_sessions
        or checkout_sessions > add_to_cart_sessions
        or payment_sessions > checkout_sessions
        or purchase_sessions > payment_sessions
),

final as (
    select * from bad_sessions
    union all
    select * from bad_rows
)

select * from final
