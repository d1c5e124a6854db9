-- grain: one row per scale x stage x category x variant x length_normalization x method
-- variant across_benchmarks: mean over mixtures of r_align (fct_alignment_by_mixture), n =
-- mixtures; variant across_mixtures: mean over the category's benchmarks of the per-benchmark r
-- over mixtures -- (fct_alignment_by_benchmark), n = benchmarks. NULL r are left out of means and counts.
with

by_mixture as (
    select * from {{ ref('fct_alignment_by_mixture') }}
),

benchmark_alignment as (
    select * from {{ ref('fct_alignment_by_benchmark') }}
),

by_benchmark as (
    {{ with_primary_selection('benchmark_alignment') }}
),

across_benchmarks as (
    select
        by_mixture.scale,
        by_mixture.stage,
        by_mixture.category,
        'across_benchmarks' as variant,
        by_mixture.length_normalization,
        by_mixture.is_primary_normalization,
        by_mixture.method,
        count(by_mixture.r_align) as n,
        avg(by_mixture.r_align) as r_align,
        stddev_samp(by_mixture.r_align) as r_align_sd
    from by_mixture
    group by all
),

across_mixtures as (
    select
        by_benchmark.scale,
        by_benchmark.stage,
        by_benchmark.category,
        'across_mixtures' as variant,
        by_benchmark.length_normalization,
        by_benchmark.is_primary_normalization,
        by_benchmark.method,
        count(by_benchmark.r_align) as n,
        avg(by_benchmark.r_align) as r_align,
        stddev_samp(by_benchmark.r_align) as r_align_sd
    from by_benchmark
    group by all
),

final as (
    select * from across_benchmarks
    union all
    select * from across_mixtures
)

select * from final
