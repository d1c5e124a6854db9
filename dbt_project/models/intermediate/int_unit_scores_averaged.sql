-- grain: one row per scale x unit x stage x benchmark x length_normalization
-- The correlation unit is the mixture partition key (a model family for imports). With several
-- seeds per scale x unit, values are seed-averaged here, and every correlation uses the averages.
-- length_normalization 'primary' repeats each benchmark's rows at its config's
-- primary_normalization (lm-eval's default: per_char where lm-eval reports acc_norm), so a
-- correlation across benchmarks can take every benchmark at its own normalization, as the
-- reference study's figures do.
with

benchmark_scores as (
    select * from {{ ref('fct_benchmark_scores') }}
),

with_primary as (
    select
        benchmark_scores.scale,
        benchmark_scores.n_params_nominal,
        benchmark_scores.unit,
        benchmark_scores.stage,
        benchmark_scores.benchmark,
        benchmark_scores.category,
        benchmark_scores.length_normalization,
        benchmark_scores.accuracy,
        benchmark_scores.mean_confidence
    from benchmark_scores
    union all
    select
        benchmark_scores.scale,
        benchmark_scores.n_params_nominal,
        benchmark_scores.unit,
        benchmark_scores.stage,
        benchmark_scores.benchmark,
        benchmark_scores.category,
        'primary' as length_normalization,
        benchmark_scores.accuracy,
        benchmark_scores.mean_confidence
    from benchmark_scores
    where benchmark_scores.is_primary_normalization
),

final as (
    select
        with_primary.scale,
        max(with_primary.n_params_nominal) as n_params_nominal,
        with_primary.unit,
        with_primary.stage,
        with_primary.benchmark,
        with_primary.category,
        with_primary.length_normalization,
        count(*) as n_seeds,
        avg(with_primary.accuracy) as accuracy,
        avg(with_primary.mean_confidence) as confidence
    from with_primary
    group by all
)

select * from final
