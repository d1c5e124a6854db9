-- grain: one row per scale x level x subject x metric (each benchmark at its primary normalization)
-- How far the PT -> SFT transfer r and decision accuracy could move with another sample of
-- items: the item-bootstrap percentile intervals (int_transfer_intervals_bootstrapped, its
-- pretrain_vs_sft rows; small -> large intervals are in fct_decision_accuracy) beside
-- the Fisher-z interval and p of r (benchmark rows only: a category's r is a mean of r, which
-- has neither). Definitions: docs/metrics_decisions.md.
with

bootstrapped as (
    select
        intervals.* exclude (comparison, scale_a, stage_a, scale_b, stage_b),
        intervals.scale_a as scale
    from {{ ref('int_transfer_intervals_bootstrapped') }} as intervals
    where intervals.comparison = 'pretrain_vs_sft'
),

benchmark_r as (
    select
        bootstrapped.*,
        case when bootstrapped.level = 'benchmark' then bootstrapped.r end as benchmark_r
    from bootstrapped
),

inferred as (
    select
        benchmark_r.*,
        {{ correlation_inference('benchmark_r.benchmark_r', 'benchmark_r.n_mixtures') }}
    from benchmark_r
),

final as (
    select
        inferred.scale,
        inferred.level,
        inferred.subject,
        inferred.category,
        inferred.metric,
        inferred.n_mixtures,
        inferred.n_items,
        inferred.r,
        inferred.p_value,
        inferred.ci_low as r_fisher_low,
        inferred.ci_high as r_fisher_high,
        inferred.r_boot_low,
        inferred.r_boot_high,
        inferred.r_boot_high - inferred.r_boot_low as r_boot_width,
        inferred.n_r_resamples,
        inferred.decision_accuracy,
        inferred.decision_accuracy_boot_low,
        inferred.decision_accuracy_boot_high,
        inferred.n_decision_resamples,
        inferred.bootstrap_seed,
        inferred.bootstrap_resamples
    from inferred
)

select * from final
