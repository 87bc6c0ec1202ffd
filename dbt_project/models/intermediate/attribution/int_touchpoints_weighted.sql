{#- Credit of every touchpoint under each rule-based attribution model; per order and model the credits
    sum to 1. Touches with no credit under a model are left out.
    - first_touch / last_touch: all credit to the first / last touch;
    - last_non_direct: the last touch that is not Direct, or the last touch when every touch is Direct;
    - linear: 1/n each;
    - time_decay: weight 2^(-age / half-life), age = time from the touch to the order,
      half-life `time_decay_half_life_days`, normalised per order;
    - position_based: 40 % first, 40 % last, 20 % shared by the middle touches; a single touch gets
      100 %, two touches 50 % each. -#}
with

touchpoints as (
    select * from {{ ref('int_touchpoints_collected') }}
),

decayed as (
    select
        *,
        power(
            0.5, cast(hours_before_conversion as double precision) / (24.0 * {{ var('time_decay_half_life_days') }})
        ) as decay_weight
    from touchpoints
),

order_stats as (
    select
        order_id,
        max(touch_number) filter (where channel != 'Direct') as last_non_direct_number,
        sum(decay_weight) as decay_total
    from decayed
    group by order_id
),

models as (
    {% for model in var('attribution_models') -%}
    select '{{ model }}' as model
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

credited as (
    select
        decayed.touchpoint_id,
        decayed.order_id,
        decayed.touch_number,
        decayed.touch_count,
        models.model,
        cast(
            case models.model
                when 'first_touch' then case when decayed.touch_number = 1 then 1.0 else 0.0 end
                when 'last_touch' then case when decayed.touch_number = decayed.touch_count then 1.0 else 0.0 end
                when 'last_non_direct'
                    then
                        case
                            when
                                decayed.touch_number
                                = coalesce(order_stats.last_non_direct_number, decayed.touch_count)
                                then 1.0
                            else 0.0
                        end
                when 'linear' then 1.0 / decayed.touch_count
                when 'time_decay' then decayed.decay_weight / order_stats.decay_total
                when 'position_based'
                    then
                        case
                            when decayed.touch_count = 1 then 1.0
                            when decayed.touch_count = 2 then 0.5
                            when decayed.touch_number in (1, decayed.touch_count) then 0.4
                            else 0.2 / (decayed.touch_count - 2)
                        end
            end as double precision
        ) as credit
    from decayed
    inner join order_stats on decayed.order_id = order_stats.order_id
    cross join models
),

final as (
    select
        md5(touchpoint_id || '|' || model) as attribution_id,
        touchpoint_id,
        order_id,
        model,
        credit
    from credited
    where credit > 0
)

select * from final
