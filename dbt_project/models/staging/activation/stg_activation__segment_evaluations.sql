with

source as (
    select * from {{ source('activation', 'segment_evaluations') }}
),

final as (
    select
        segment,
        as_of_date,
        cast(members as integer) as members,
        sql_digest,
        evaluated_at
    from source
)

select * from final
