{#- Size of every segment on every day it was evaluated, with the entries and exits since the
    evaluation before (from segment_members' spells). -#}
with

evaluations as (
    select * from {{ ref('stg_activation__segment_evaluations') }}
),

members as (
    select * from {{ ref('segment_members') }}
),

entered as (
    select
        segment,
        since as as_of_date,
        count(*) as entered
    from members
    group by segment, since
),

exited as (
    select
        segment,
        until as as_of_date,
        count(*) as exited
    from members
    where until is not null
    group by segment, until
),

final as (
    select
        evaluations.segment,
        evaluations.as_of_date,
        evaluations.members,
        cast(coalesce(entered.entered, 0) as integer) as entered,
        cast(coalesce(exited.exited, 0) as integer) as exited,
        evaluations.evaluated_at
    from evaluations
    left join entered
        on evaluations.segment = entered.segment and evaluations.as_of_date = entered.as_of_date
    left join exited
        on evaluations.segment = exited.segment and evaluations.as_of_date = exited.as_of_date
)

select * from final
