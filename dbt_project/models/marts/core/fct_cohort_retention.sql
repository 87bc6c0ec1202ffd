{#- Monthly acquisition cohorts (month of the customer's first order, imported history included) x
    months since that month: cohort size, customers who ordered in that month (`retention_rate`, 0-1;
    month 0 is 1 by construction), orders, net revenue and cumulative net revenue per cohort customer.
    Each cohort appears once with `first_touch_channel = 'All'` and once per acquisition channel.
    Months run up to the latest order month in the warehouse. Cancelled orders do not count. -#}
with

customers as (
    select * from {{ ref('int_customers_aggregated') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where customer_id is not null and not is_cancelled
),

cohort_members as (
    select
        customer_id,
        cast(date_trunc('month', first_order_at at time zone 'UTC') as date) as cohort_month,
        acquisition_channel
    from customers
),

members_by_split as (
    select
        customer_id,
        cohort_month,
        'All' as first_touch_channel
    from cohort_members
    union all
    select
        customer_id,
        cohort_month,
        acquisition_channel as first_touch_channel
    from cohort_members
),

cohort_sizes as (
    select
        cohort_month,
        first_touch_channel,
        count(*) as cohort_customers
    from members_by_split
    group by cohort_month, first_touch_channel
),

last_month as (
    select cast(date_trunc('month', max(ordered_at) at time zone 'UTC') as date) as last_order_month
    from orders
),

spine as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.first_touch_channel,
        cohort_sizes.cohort_customers,
        cast(months.months_since as integer) as months_since_first_order
    from cohort_sizes
    cross join last_month
    cross join lateral generate_series(
        0,
        (extract(year from last_month.last_order_month) - extract(year from cohort_sizes.cohort_month)) * 12
        + extract(month from last_month.last_order_month) - extract(month from cohort_sizes.cohort_month)
    ) as months (months_since)
),

order_months as (
    select
        members_by_split.cohort_month,
        members_by_split.first_touch_channel,
        members_by_split.customer_id,
        orders.net_revenue,
        cast(
            (extract(year from orders.ordered_at at time zone 'UTC') - extract(year from members_by_split.cohort_month)) * 12
            + extract(month from orders.ordered_at at time zone 'UTC') - extract(month from members_by_split.cohort_month)
            as integer
        ) as months_since_first_order
    from members_by_split
    inner join orders on members_by_split.customer_id = orders.customer_id
),

activity as (
    select
        cohort_month,
        first_touch_channel,
        months_since_first_order,
        count(distinct customer_id) as active_customers,
        count(*) as orders,
        sum(net_revenue) as net_revenue
    from order_months
    group by cohort_month, first_touch_channel, months_since_first_order
),

joined as (
    select
        spine.cohort_month,
        spine.first_touch_channel,
        spine.months_since_first_order,
        spine.cohort_customers,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(activity.orders, 0) as orders,
        coalesce(activity.net_revenue, 0) as net_revenue
    from spine
    left join activity
        on
            spine.cohort_month = activity.cohort_month
            and spine.first_touch_channel = activity.first_touch_channel
            and spine.months_since_first_order = activity.months_since_first_order
),

final as (
    select
        cohort_month,
        first_touch_channel,
        months_since_first_order,
        cohort_customers,
        active_customers,
        round(1.0 * active_customers / cohort_customers, 4) as retention_rate,
        orders,
        net_revenue,
        sum(net_revenue) over (
            partition by cohort_month, first_touch_channel
            order by months_since_first_order
            rows unbounded preceding
        ) as cumulative_net_revenue,
        sum(net_revenue) over (
            partition by cohort_month, first_touch_channel
            order by months_since_first_order
            rows unbounded preceding
        ) / cohort_customers as cumulative_revenue_per_customer
    from joined
)

select * from final
