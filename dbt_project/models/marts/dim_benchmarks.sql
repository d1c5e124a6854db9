-- grain: one row per benchmark
with

benchmarks as (
    select * from {{ ref('int_benchmarks_resolved') }}
),

final as (
    select * from benchmarks
)

select * from final
