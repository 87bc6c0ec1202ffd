with

source as (
    select * from {{ source('activation', 'segment_snapshots') }}
),

final as (
    select
        segment,
        as_of_date,
        customer_id
    from source
)

select * from final
