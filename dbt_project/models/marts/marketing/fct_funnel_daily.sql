{#- First-party funnel per UTC day x channel x device x visitor type x customer type: sessions ->
    product view -> add to cart -> checkout -> payment -> purchase, with the sessions that had a failed
    payment or a checkout error. Steps follow the `funnel_mode` var (fct_sessions; carried in
    `funnel_mode`): in either mode a session reaching a step reached every earlier one, so the steps
    never increase. Rates are step over previous step (`payment_rate` = payment / checkout,
    `purchase_rate` = purchase / payment); `session_conversion_rate` = purchase / sessions. The median
    time to convert is from session start to purchase, over purchasing sessions. Sum counts across rows
    (never average rates): the grain is fine, so most rows are small. -#}
{%- set mode = funnel_mode() %}
with

sessions as (
    select * from {{ ref('fct_sessions') }}
),

daily as (
    select
        session_date as date_day,
        channel,
        device_type,
        visitor_type,
        customer_type,
        count(*) as sessions,
        count(*) filter (where has_product_view) as product_view_sessions,
        count(*) filter (where has_add_to_cart) as add_to_cart_sessions,
        count(*) filter (where has_checkout) as checkout_sessions,
        count(*) filter (where has_payment) as payment_sessions,
        count(*) filter (where has_purchase) as purchase_sessions,
        count(*) filter (where has_payment_failure) as payment_failed_sessions,
        count(*) filter (where has_checkout_error) as checkout_error_sessions,
        coalesce(sum(revenue) filter (where has_purchase), 0) as purchase_revenue,
        percentile_cont(0.5) within group (order by minutes_to_purchase) filter (where has_purchase)
            as median_minutes_to_purchase
    from sessions
    group by session_date, channel, device_type, visitor_type, customer_type
),

final as (
    select
        date_day,
        channel,
        device_type,
        visitor_type,
        customer_type,
        cast('{{ mode }}' as text) as funnel_mode,
        sessions,
        product_view_sessions,
        add_to_cart_sessions,
        checkout_sessions,
        payment_sessions,
        purchase_sessions,
        payment_failed_sessions,
        checkout_error_sessions,
        purchase_revenue,
        1.0 * product_view_sessions / nullif(sessions, 0) as product_view_rate,
        1.0 * add_to_cart_sessions / nullif(product_view_sessions, 0) as add_to_cart_rate,
        1.0 * checkout_sessions / nullif(add_to_cart_sessions, 0) as checkout_rate,
        1.0 * payment_sessions / nullif(checkout_sessions, 0) as payment_rate,
        1.0 * purchase_sessions / nullif(payment_sessions, 0) as purchase_rate,
        1.0 * purchase_sessions / nullif(sessions, 0) as session_conversion_rate,
        median_minutes_to_purchase
    from daily
)

select * from final
