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

-- each score row once as itself and, at the primary normalization, once more as 'primary'
copies as (
    select unnest([false, true]) as as_primary
),

final as (
    select
        benchmark_scores.scale,
        max(benchmark_scores.n_params_nominal) as n_params_nominal,
        benchmark_scores.unit,
        benchmark_scores.stage,
        benchmark_scores.benchmark,
        benchmark_scores.category,
        case
            when copies.as_primary then 'primary' else benchmark_scores.length_normalization
        end as length_normalization,
        count(*) as n_seeds,
        avg(benchmark_scores.accuracy) as accuracy,
        avg(benchmark_scores.mean_confidence) as confidence
    from benchmark_scores
    cross join copies
    where not copies.as_primary or benchmark_scores.is_primary_normalization
    group by all
)

select * from final
