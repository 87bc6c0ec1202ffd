{#- Point-in-time customer features for the ML models: one row per customer per monthly snapshot date
    (the first of each month, from the month after the first order up to the month after the latest
    order), for customers whose first order is before the snapshot; plus a snapshot at the reference
    date when one is set and is not a first of the month already: var `ml_reference_date`, by default
    the date part of JOURNEY_AS_OF (a date or an ISO timestamp: the sandbox's "today"), so the models
    score as of that day rather than as of the 1st. Every feature uses only what was
    known strictly before the snapshot date: orders placed before it and not cancelled before it,
    refunds issued before it, sessions started before it on browsers linked to the customer before it.
    The acquisition channel is the first touch of the first order, which precedes the snapshot.
    No labels here: the ML code builds them from later data. -#}
{#- No contract (the other marts have one): the category columns follow the shop's catalog. Their
    comments come from the post-hook; the fixed columns' from the YAML (persist_docs). -#}
{{ config(
    contract={'enforced': false},
    post_hook="{{ comment_generated_columns(this, 'category_share_', 'Share of the item revenue before the snapshot (gross line amounts) in the product category {} (column_slug of the Shopify product type), 0-1; 0 without such items.') }}"
) }}
{#- The reference date: at parse time (and in sqlfluff, which has no env_var) a placeholder, so the
    branch that adds its snapshot below is parsed and linted; nothing is built from it then. -#}
{%- set reference_date = '2000-01-15' -%}
{%- if execute -%}
    {%- set reference_date = ((var('ml_reference_date', env_var('JOURNEY_AS_OF', '')) or '') | string | trim)[:10] -%}
    {%- set date_digits = reference_date[:4] ~ reference_date[5:7] ~ reference_date[8:10] -%}
    {%- if reference_date and not (
        reference_date | length == 10 and reference_date[4] == '-' and reference_date[7] == '-' and date_digits.isdigit()
    ) -%}
        {{ exceptions.raise_compiler_error(
            "ml_reference_date (or JOURNEY_AS_OF) must be a date or an ISO timestamp, got '" ~ reference_date ~ "'"
        ) }}
    {%- endif -%}
{%- endif -%}
{%- set categories = [] -%}
{%- if execute -%}
    {%- set result = run_query(
        "select distinct category from " ~ ref('stg_shopify__products') ~ " order by 1"
    ) -%}
    {%- set categories = result.columns[0].values() | list -%}
{%- endif %}
-- depends_on: {{ ref('stg_shopify__products') }}
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where customer_id is not null
),

refunds as (
    select * from {{ ref('stg_shopify__refunds') }}
),

order_items as (
    select * from {{ ref('int_order_items_enriched') }}
    where customer_id is not null
),

customers as (
    select * from {{ ref('int_customers_aggregated') }}
),

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

identities as (
    select * from {{ ref('int_identities_resolved') }}
),

bounds as (
    select
        cast(date_trunc('month', min(first_order_at) at time zone 'UTC') as date) as first_month,
        cast(date_trunc('month', max(last_order_at) at time zone 'UTC') as date) as last_month
    from customers
),

monthly_snapshots as (
    select
        cast(months.month_start as date) as snapshot_date,
        {{ utc_midnight('months.month_start') }} as snapshot_at
    from bounds
    cross join lateral generate_series(
        bounds.first_month + interval '1 month', bounds.last_month + interval '1 month', interval '1 month'
    ) as months (month_start)
),

snapshots as (
    select * from monthly_snapshots
    {%- if reference_date %}
    union all
    -- the reference date's own snapshot (what was known before its 00:00 UTC)
    select
        cast('{{ reference_date }}' as date) as snapshot_date,
        {{ utc_midnight("cast('" ~ reference_date ~ "' as date)") }} as snapshot_at
    where cast('{{ reference_date }}' as date) not in (select monthly_snapshots.snapshot_date from monthly_snapshots)
    {%- endif %}
),

orders_known as (
    -- orders as they stood at each snapshot: placed before it, not yet cancelled then
    select
        snapshots.snapshot_date,
        snapshots.snapshot_at,
        orders.*
    from snapshots
    inner join orders
        on
            orders.ordered_at < snapshots.snapshot_at
            and (orders.cancelled_at is null or orders.cancelled_at >= snapshots.snapshot_at)
),

order_features as (
    select
        snapshot_date,
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as frequency,
        count(*) filter (where ordered_at >= snapshot_at - interval '90 days') as orders_90d,
        count(*) filter (where ordered_at >= snapshot_at - interval '365 days') as orders_365d,
        sum(total_price) as gross_revenue,
        sum(subtotal_amount) as subtotal_amount,
        sum(discount_amount) as discount_amount,
        count(*) filter (where discount_amount > 0 or discount_codes is not null) as discounted_orders
    from orders_known
    group by snapshot_date, customer_id
),

refunds_known as (
    select
        orders_known.snapshot_date,
        orders_known.customer_id,
        sum(refunds.refund_amount) as refunded_amount
    from orders_known
    inner join refunds
        on
            orders_known.order_id = refunds.order_id
            and refunds.refunded_at < orders_known.snapshot_at
    group by orders_known.snapshot_date, orders_known.customer_id
),

category_mix as (
    select
        orders_known.snapshot_date,
        orders_known.customer_id,
        {% for category in categories -%}
            sum(order_items.gross_amount) filter (where order_items.category = '{{ category | replace("'", "''") }}')
                as amount_{{ column_slug(category) }},
        {% endfor -%}
        sum(order_items.gross_amount) as item_amount
    from orders_known
    inner join order_items on orders_known.order_id = order_items.order_id
    group by orders_known.snapshot_date, orders_known.customer_id
),

sessions_known as (
    select
        snapshots.snapshot_date,
        identities.customer_id,
        sessions.session_start,
        sessions.product_viewed_at is not null as has_product_view,
        sessions.added_to_cart_at is not null as has_add_to_cart,
        sessions.checkout_started_at is not null as has_checkout
    from snapshots
    inner join sessions
        on
            sessions.session_start < snapshots.snapshot_at
            and sessions.session_start >= snapshots.snapshot_at - interval '90 days'
    inner join identities
        on
            sessions.anonymous_id = identities.anonymous_id
            and identities.first_linked_at < snapshots.snapshot_at
),

session_features as (
    select
        sessions_known.snapshot_date,
        sessions_known.customer_id,
        count(*) filter (where sessions_known.session_start >= snapshots.snapshot_at - interval '30 days')
            as sessions_30d,
        count(*) as sessions_90d,
        count(*) filter (
            where sessions_known.has_product_view and sessions_known.session_start >= snapshots.snapshot_at - interval '30 days'
        ) as product_view_sessions_30d,
        count(*) filter (where sessions_known.has_product_view) as product_view_sessions_90d,
        count(*) filter (
            where sessions_known.has_add_to_cart and sessions_known.session_start >= snapshots.snapshot_at - interval '30 days'
        ) as add_to_cart_sessions_30d,
        count(*) filter (where sessions_known.has_add_to_cart) as add_to_cart_sessions_90d,
        count(*) filter (
            where sessions_known.has_checkout and sessions_known.session_start >= snapshots.snapshot_at - interval '30 days'
        ) as checkout_sessions_30d,
        count(*) filter (where sessions_known.has_checkout) as checkout_sessions_90d,
        max(sessions_known.session_start) as last_session_at
    from sessions_known
    inner join snapshots on sessions_known.snapshot_date = snapshots.snapshot_date
    group by sessions_known.snapshot_date, sessions_known.customer_id
),

final as (
    select
        order_features.customer_id,
        order_features.snapshot_date,
        order_features.first_order_at,
        order_features.last_order_at,
        extract(epoch from snapshots.snapshot_at - order_features.last_order_at) / 86400.0 as recency_days,
        extract(epoch from snapshots.snapshot_at - order_features.first_order_at) / 86400.0 as tenure_days,
        order_features.frequency,
        order_features.orders_90d,
        order_features.orders_365d,
        order_features.gross_revenue,
        coalesce(refunds_known.refunded_amount, 0) as refunded_amount,
        order_features.gross_revenue - coalesce(refunds_known.refunded_amount, 0) as monetary,
        (order_features.gross_revenue - coalesce(refunds_known.refunded_amount, 0)) / order_features.frequency
            as average_order_value,
        order_features.discount_amount / nullif(order_features.subtotal_amount, 0) as discount_share,
        1.0 * order_features.discounted_orders / order_features.frequency as discounted_order_share,
        coalesce(refunds_known.refunded_amount, 0) / nullif(order_features.gross_revenue, 0) as refund_share,
        {%- for category in categories %}
            {%- set slug = column_slug(category) %}
            coalesce(category_mix.amount_{{ slug }} / nullif(category_mix.item_amount, 0), 0) as category_share_{{ slug }},
        {%- endfor %}
        coalesce(session_features.sessions_30d, 0) as sessions_30d,
        coalesce(session_features.sessions_90d, 0) as sessions_90d,
        coalesce(session_features.product_view_sessions_30d, 0) as product_view_sessions_30d,
        coalesce(session_features.product_view_sessions_90d, 0) as product_view_sessions_90d,
        coalesce(session_features.add_to_cart_sessions_30d, 0) as add_to_cart_sessions_30d,
        coalesce(session_features.add_to_cart_sessions_90d, 0) as add_to_cart_sessions_90d,
        coalesce(session_features.checkout_sessions_30d, 0) as checkout_sessions_30d,
        coalesce(session_features.checkout_sessions_90d, 0) as checkout_sessions_90d,
        extract(epoch from snapshots.snapshot_at - session_features.last_session_at) / 86400.0
            as days_since_last_session_90d,
        coalesce(customers.acquisition_channel, 'Unattributed') as acquisition_channel
    from order_features
    inner join snapshots on order_features.snapshot_date = snapshots.snapshot_date
    left join customers on order_features.customer_id = customers.customer_id
    left join refunds_known
        on
            order_features.snapshot_date = refunds_known.snapshot_date
            and order_features.customer_id = refunds_known.customer_id
    left join category_mix  -- noqa: ST11
        on
            order_features.snapshot_date = category_mix.snapshot_date
            and order_features.customer_id = category_mix.customer_id
    left join session_features
        on
            order_features.snapshot_date = session_features.snapshot_date
            and order_features.customer_id = session_features.customer_id
)

select * from final
