{#- Segment membership as spells: one row per continuous stay of a customer in a segment. A stay is
    a run of consecutive evaluations of that segment (evaluated days, not calendar days: a night that
    did not run breaks nothing) with the customer a member; `until` is the first evaluated day the
    customer was out again, null while they are still in. So "who entered/left on day D" is
    `since = D` / `until = D`, and "members on D" is `since <= D and (until is null or until > D)`
    for D an evaluated day. -#}
with

evaluations as (
    select
        segment,
        as_of_date,
        row_number() over (partition by segment order by as_of_date) as evaluation_number,
        lead(as_of_date) over (partition by segment order by as_of_date) as next_evaluation_date
    from {{ ref('stg_activation__segment_evaluations') }}
),

snapshots as (
    select * from {{ ref('stg_activation__segment_snapshots') }}
),

islands as (
    -- consecutive evaluations share one value of evaluation_number - the member's own sequence number
    select
        snapshots.segment,
        snapshots.customer_id,
        snapshots.as_of_date,
        evaluations.next_evaluation_date,
        evaluations.evaluation_number
        - row_number() over (
            partition by snapshots.segment, snapshots.customer_id order by snapshots.as_of_date
        ) as island
    from snapshots
    inner join evaluations
        on snapshots.segment = evaluations.segment and snapshots.as_of_date = evaluations.as_of_date
),

spells as (
    select
        segment,
        customer_id,
        min(as_of_date) as since,
        max(as_of_date) as last_member_date,
        (array_agg(next_evaluation_date order by as_of_date desc))[1] as until  -- noqa: RF04
    from islands
    group by segment, customer_id, island
),

final as (
    select
        segment,
        customer_id,
        since,
        until,
        last_member_date,
        until is null as is_current,
        cast(row_number() over (partition by segment, customer_id order by since) as integer) as spell_number
    from spells
)

select * from final
