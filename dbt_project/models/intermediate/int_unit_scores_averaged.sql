-- grain: one row per scale x unit x stage x benchmark x length_normalization
-- The correlation unit is the mixture partition key (a model family for imports). With several
-- seeds per scale x unit, values are seed-averaged here, and every correlation uses the averages.
with

benchmark_scores as (
    select * from {{ ref('fct_benchmark_scores') }}
),

final as (
    select
        benchmark_scores.scale,
        max(benchmark_scores.n_params_nominal) as n_params_nominal,
        benchmark_scores.unit,
        benchmark_scores.stage,
        benchmark_scores.benchmark,
        benchmark_scores.category,
        benchmark_scores.length_normalization,
        count(*) as n_seeds,
        avg(benchmark_scores.accuracy) as accuracy,
        avg(benchmark_scores.mean_confidence) as confidence
    from benchmark_scores
    group by all
)

select * from final
