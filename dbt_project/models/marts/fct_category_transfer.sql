-- grain: one row per scale x category x metric x length_normalization x method
-- Category value = unweighted mean of its benchmarks' cross-stage r; category 'all' = mean over
-- every benchmark. Benchmarks with NULL r are left out and not counted in n_benchmarks.
-- length_normalization NULL with is_primary_normalization: each benchmark at its primary one.
with

benchmark_transfer as (
    select * from {{ ref('fct_cross_stage_transfer') }}
),

transfer as (
    {{ with_primary_selection('benchmark_transfer') }}
),

by_category as (
    select
        transfer.scale,
        transfer.category,
        transfer.metric,
        transfer.length_normalization,
        transfer.is_primary_normalization,
        transfer.method,
        count(transfer.r) as n_benchmarks,
        avg(transfer.r) as mean_r
    from transfer
    group by all
),

overall as (
    select
        transfer.scale,
        'all' as category,
        transfer.metric,
        transfer.length_normalization,
        transfer.is_primary_normalization,
        transfer.method,
        count(transfer.r) as n_benchmarks,
        avg(transfer.r) as mean_r
    from transfer
    group by all
),

final as (
    select * from by_category
    union all
    select * from overall
)

select * from final
