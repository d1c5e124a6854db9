-- grain: one row per scale x mixture x stage x benchmark x length_normalization x metric
-- The correlation unit is the mixture partition key (docs/glossary.md: a model family for
-- imports). With several seeds per scale x mixture, values are seed-averaged here, and every
-- correlation mart uses these averages. is_primary_normalization marks each benchmark's config
-- primary_normalization (lm-eval's default: per_char where lm-eval reports acc_norm).
with

-- the latest checkpoint's scores, or with var checkpoint_average the mean over each run's last
-- checkpoints (macros/decisions.sql)
benchmark_scores as (
    {{- correlation_benchmark_scores() }}
),

averaged as (
    select
        benchmark_scores.scale,
        max(benchmark_scores.n_params_nominal) as n_params_nominal,
        benchmark_scores.mixture,
        benchmark_scores.stage,
        benchmark_scores.benchmark,
        benchmark_scores.category,
        benchmark_scores.length_normalization,
        benchmark_scores.is_primary_normalization,
        count(*) as n_seeds,
        avg(benchmark_scores.accuracy) as accuracy,
        avg(benchmark_scores.mean_confidence) as confidence
    from benchmark_scores
    group by all
),

final as (
    select
        averaged.* exclude (accuracy, confidence),
        'accuracy' as metric,
        averaged.accuracy as value
    from averaged
    union all
    select
        averaged.* exclude (accuracy, confidence),
        'confidence' as metric,
        averaged.confidence as value
    from averaged
)

select * from final
