with

source as (
    select * from {{ source('events', 'loaded_files') }}
),

final as (
    select
        landing_file,
        cast(rows_loaded as bigint) as rows_loaded,
        cast(rows_rejected as bigint) as rows_rejected,
        cast(loaded_at as timestamptz) as loaded_at
    from source
)

select * from final
