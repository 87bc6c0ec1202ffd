-- Every conversion is attributed under every model, and its credits sum to 1 under each.
{{ config(meta={'dagster': {'ref': {'name': 'fct_attribution'}}}) }}

with

attribution as (
    select * from {{ ref('fct_attribution') }}
),

conversions as (
    select order_id from {{ ref('fct_orders') }}
    where order_source = 'shopify' and not is_cancelled
),

models as (
    {% for model in var('attribution_models') -%}
    select '{{ model }}' as model
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

credit_sums as (
    select
        order_id,
        model,
        sum(credit) as total_credit
    from attribution
    group by order_id, model
),

final as (
    select
        conversions.order_id,
        models.model,
        credit_sums.total_credit
    from conversions
    cross join models
    left join credit_sums
        on conversions.order_id = credit_sums.order_id and models.model = credit_sums.model
    where credit_sums.total_credit is null or abs(credit_sums.total_credit - 1) > 1e-9
)

select * from final
