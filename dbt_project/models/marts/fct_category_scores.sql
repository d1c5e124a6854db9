-- grain: one row per run_id x stage x category x length_normalization
-- Unweighted means over the category's benchmarks, raw and chance-normalised
-- ((accuracy - chance) / (1 - chance), DESIGN §10).
with

benchmark_scores as (
    select * from {{ ref('fct_benchmark_scores') }}
),

final as (
    select
        benchmark_scores.run_id,
        benchmark_scores.scale,
        benchmark_scores.mixture,
        benchmark_scores.seed,
        benchmark_scores.stage,
        benchmark_scores.category,
        benchmark_scores.length_normalization,
        count(*) as n_benchmarks,
        avg(benchmark_scores.accuracy) as mean_accuracy,
        avg(benchmark_scores.accuracy_chance_normalized) as mean_accuracy_chance_normalized,
        avg(benchmark_scores.mean_confidence) as mean_confidence
    from benchmark_scores
    group by all
)

select * from final
