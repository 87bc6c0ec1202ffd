with

source as (
    select * from {{ source('events', 'rejected') }}
),

final as (
    select
        landing_file,
        cast(line_number as bigint) as line_number,
        cast(message_id as text) as event_id,
        reason,
        cast(rejected_at as timestamptz) as rejected_at
    from source
)

select * from final
