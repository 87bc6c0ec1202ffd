{#- Which customer each anonymous (browser) id belongs to, and since when we know it. Links come from
    sessions in which the tracker saw a `userId` (identify calls after login/checkout) and from the
    tracker id Shopify orders carry in their cart attributes. A browser shared by several customers
    is assigned to the first one linked; `first_linked_at` lets point-in-time consumers (touchpoints,
    ML features) use only links known at the time. -#}
with

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

links as (
    select
        anonymous_id,
        identified_customer_id as customer_id,
        identified_at as linked_at,
        'identify' as link_source
    from sessions
    where identified_customer_id is not null

    union all

    select
        journey_anonymous_id as anonymous_id,
        customer_id,
        ordered_at as linked_at,
        'order' as link_source
    from orders
    where
        order_source = 'shopify'
        and journey_anonymous_id is not null
        and customer_id is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by anonymous_id order by linked_at, link_source, customer_id
        ) as link_rank
    from links
),

customers_per_browser as (
    select
        anonymous_id,
        count(distinct customer_id) as linked_customer_count
    from links
    group by anonymous_id
),

final as (
    select
        ranked.anonymous_id,
        ranked.customer_id,
        ranked.linked_at as first_linked_at,
        ranked.link_source,
        customers_per_browser.linked_customer_count
    from ranked
    inner join customers_per_browser on ranked.anonymous_id = customers_per_browser.anonymous_id
    where ranked.link_rank = 1
)

select * from final
