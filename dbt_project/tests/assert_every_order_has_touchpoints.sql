-- No Shopify order is silently dropped from attribution: each has at least one touchpoint.
{{ config(meta={'dagster': {'ref': {'name': 'int_touchpoints_collected'}}}) }}

select orders.order_id
from {{ ref('fct_orders') }} as orders
where
    orders.order_source = 'shopify'
    and not exists (
        select 1 from {{ ref('int_touchpoints_collected') }} as touchpoints
        where touchpoints.order_id = orders.order_id
    )
