{#- One row per customer: Shopify customers and any customer id seen on an order. No emails or phones,
    not even hashed: the reporter role reads marts.

    RFM as of the day after the latest order in the warehouse (so the scores do not drift with the
    wall clock): each of recency (days since last order, lower is better), frequency (orders) and
    monetary (net revenue) is scored 1-5 by percent rank (the share of customers strictly worse), so ties
    share a score and the many one-order customers all get frequency 1; the named segment follows the
    usual R x F grid. Customers without orders get no scores. `lifetime_contribution_margin` is the
    margin-based value to date (fct_orders' contribution margin of the kept orders).

    Consent: `accepts_marketing` is Shopify's email marketing state, `tracker_marketing_consent` the
    latest choice the customer's browsers sent (null: never asked); `marketing_allowed` is what an
    audience or export that feeds marketing must filter on: Shopify's consent, and no refusal on the
    site. -#}
with

customers as (
    select * from {{ ref('stg_shopify__customers') }}
),

history as (
    select * from {{ ref('int_customers_aggregated') }}
),

tracker_consent as (
    select * from {{ ref('int_customer_consent') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

margins as (
    -- margin-based value to date: null when any of the customer's orders has no known COGS
    select
        customer_id,
        case
            when count(*) = count(contribution_margin) then sum(contribution_margin)
        end as contribution_margin
    from orders
    where customer_id is not null and not is_cancelled
    group by customer_id
),

customer_ids as (
    select customer_id from customers
    union
    select customer_id from history
),

as_of as (
    select {{ utc_date('max(last_order_at)') }} + 1 as as_of_date
    from history
),

recency as (
    select
        history.*,
        as_of.as_of_date,
        as_of.as_of_date - {{ utc_date('history.last_order_at') }} as recency_days
    from history
    cross join as_of
),

scored as (
    select
        *,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by recency_days desc))) as integer) as recency_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by orders))) as integer) as frequency_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by net_revenue))) as integer) as monetary_score
    from recency
),

segmented as (
    select
        *,
        case
            when recency_score >= 4 and frequency_score >= 4 then 'Champions'
            when recency_score >= 4 and orders = 1 then 'New Customers'
            when recency_score = 3 and frequency_score >= 4 then 'Loyal Customers'
            when recency_score >= 3 and frequency_score >= 2 then 'Potential Loyalists'
            when recency_score = 1 and frequency_score >= 4 then 'Cannot Lose Them'
            when recency_score <= 2 and frequency_score >= 3 then 'At Risk'
            when recency_score = 3 then 'Needs Attention'
            else 'Hibernating'
        end as rfm_segment
    from scored
),

final as (
    select
        customer_ids.customer_id,
        customers.customer_state,
        customers.accepts_marketing,
        tracker_consent.tracker_marketing_consent,
        coalesce(customers.accepts_marketing, false)
        and coalesce(tracker_consent.tracker_marketing_consent, true) as marketing_allowed,
        customers.created_at,
        customers.city,
        customers.country_code,
        customers.province_code,
        customers.customer_id is not null as is_shopify_customer,
        segmented.first_order_at,
        segmented.last_order_at,
        coalesce(segmented.orders, 0) as orders,
        coalesce(segmented.imported_orders, 0) as imported_orders,
        coalesce(segmented.gross_revenue, 0) as gross_revenue,
        coalesce(segmented.refunded_amount, 0) as refunded_amount,
        coalesce(segmented.net_revenue, 0) as net_revenue,
        segmented.net_revenue / nullif(segmented.orders, 0) as average_order_value,
        margins.contribution_margin as lifetime_contribution_margin,
        segmented.as_of_date as rfm_as_of_date,
        segmented.recency_days,
        segmented.recency_score,
        segmented.frequency_score,
        segmented.monetary_score,
        cast(segmented.recency_score as text)
        || cast(segmented.frequency_score as text)
        || cast(segmented.monetary_score as text) as rfm_cell,
        coalesce(segmented.rfm_segment, 'No Orders') as rfm_segment,
        coalesce(segmented.acquisition_channel, 'Unattributed') as first_touch_channel,
        {{ utc_date('segmented.first_order_at') }} as first_order_date,
        cast(date_trunc('month', segmented.first_order_at at time zone 'UTC') as date) as cohort_month
    from customer_ids
    left join customers on customer_ids.customer_id = customers.customer_id
    left join segmented on customer_ids.customer_id = segmented.customer_id
    left join tracker_consent on customer_ids.customer_id = tracker_consent.customer_id
    left join margins on customer_ids.customer_id = margins.customer_id
)

select * from final
