-- Under every model, the revenue credited to touchpoints equals the revenue of the attributed orders.
{{ config(meta={'dagster': {'ref': {'name': 'fct_attribution'}}}) }}

with

attribution as (
    select * from {{ ref('fct_attribution') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

per_model as (
    select
        model,
        sum(revenue_credit) as credited_revenue,
        count(distinct order_id) as conversions
    from attribution
    group by model
),

attributed_orders as (
    select sum(total_price) as order_revenue
    from orders
    where order_id in (select attribution.order_id from attribution)
),

final as (
    select
        per_model.model,
        per_model.credited_revenue,
        attributed_orders.order_revenue
    from per_model
    cross join attributed_orders
    where abs(per_model.credited_revenue - attributed_orders.order_revenue) > 0.01
)

select * from final
