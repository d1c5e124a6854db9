{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_stale_leaves() }}",
) }}
-- grain: one row per run_id x stage x benchmark x length_normalization
-- AUROC of confidence for is_correct is the tie-corrected Mann-Whitney statistic (equal
-- confidences count one half), NULL when every item is right or every item is wrong.
with

item_predictions as (
    select * from {{ ref('int_item_predictions_scored') }}
),

calibration_bins as (
    select * from {{ ref('fct_calibration_bins') }}
),

bootstrapped as (
    select * from {{ ref('int_benchmark_scores_bootstrapped') }}
),

benchmarks as (
    select * from {{ ref('int_benchmarks_resolved') }}
),

all_leaves as (
    select * from {{ ref('int_prediction_leaves_resolved') }}
),

leaves as (
    select * from all_leaves
    {{ unbuilt_leaves_filter('all_leaves') }}
),

scored as (
    select
        item_predictions.leaf_fingerprint,
        item_predictions.length_normalization,
        item_predictions.is_correct,
        item_predictions.n_tied_at_max,
        item_predictions.confidence,
        item_predictions.prob_gold,
        item_predictions.margin,
        item_predictions.entropy_nats,
        item_predictions.brier,
        item_predictions.nll
    from item_predictions
    semi join leaves on item_predictions.leaf_fingerprint = leaves.leaf_fingerprint
),

aggregated as (
    select
        scored.leaf_fingerprint,
        scored.length_normalization,
        count(*) as n_items,
        count(*) filter (where scored.n_tied_at_max > 1) as n_items_tied,
        avg(cast(scored.is_correct as double)) as accuracy,
        avg(scored.confidence) as mean_confidence,
        avg(scored.prob_gold) as mean_prob_gold,
        avg(scored.margin) as mean_margin,
        avg(scored.entropy_nats) as mean_entropy_nats,
        avg(scored.brier) as brier,
        avg(scored.nll) as nll
    from scored
    group by scored.leaf_fingerprint, scored.length_normalization
),

by_confidence as (
    select
        scored.leaf_fingerprint,
        scored.length_normalization,
        scored.confidence,
        count(*) filter (where scored.is_correct) as n_positive,
        count(*) filter (where not scored.is_correct) as n_negative
    from scored
    where scored.confidence is not null
    group by all
),

negatives_below as (
    select
        by_confidence.*,
        coalesce(sum(by_confidence.n_negative) over (
            partition by by_confidence.leaf_fingerprint, by_confidence.length_normalization
            order by by_confidence.confidence
            rows between unbounded preceding and 1 preceding
        ), 0) as n_negative_below
    from by_confidence
),

auroc as (
    select
        negatives_below.leaf_fingerprint,
        negatives_below.length_normalization,
        case
            when sum(negatives_below.n_positive) > 0 and sum(negatives_below.n_negative) > 0
                then sum(
                    negatives_below.n_positive
                    * (negatives_below.n_negative_below + 0.5 * negatives_below.n_negative)
                )
                / (sum(negatives_below.n_positive) * sum(negatives_below.n_negative))
        end as auroc_confidence
    from negatives_below
    group by all
),

ece as (
    select
        calibration_bins.leaf_fingerprint,
        calibration_bins.length_normalization,
        sum(calibration_bins.n_items * calibration_bins.abs_gap) filter (
            where calibration_bins.binning = 'equal_width_15'
        ) / sum(calibration_bins.n_items) filter (
            where calibration_bins.binning = 'equal_width_15'
        ) as ece_15_equal_width,
        sum(calibration_bins.n_items * calibration_bins.abs_gap) filter (
            where calibration_bins.binning = 'equal_mass_10'
        ) / sum(calibration_bins.n_items) filter (
            where calibration_bins.binning = 'equal_mass_10'
        ) as ece_10_equal_mass
    from calibration_bins
    semi join leaves on calibration_bins.leaf_fingerprint = leaves.leaf_fingerprint
    group by all
),

final as (
    select
        leaves.run_id,
        leaves.scale,
        leaves.n_params_nominal,
        leaves.mixture,
        leaves.mixture as unit,
        leaves.seed,
        leaves.stage,
        leaves.origin,
        leaves.checkpoint_step,
        leaves.n_tokens_seen,
        leaves.benchmark,
        leaves.category,
        aggregated.length_normalization,
        aggregated.length_normalization = benchmarks.primary_normalization
            as is_primary_normalization,
        aggregated.n_items,
        aggregated.n_items_tied,
        aggregated.accuracy,
        benchmarks.chance_accuracy,
        (aggregated.accuracy - benchmarks.chance_accuracy) / (1 - benchmarks.chance_accuracy)
            as accuracy_chance_normalized,
        aggregated.mean_confidence,
        aggregated.mean_prob_gold,
        aggregated.mean_margin,
        aggregated.mean_entropy_nats,
        aggregated.brier,
        aggregated.nll,
        ece.ece_15_equal_width,
        ece.ece_10_equal_mass,
        aggregated.mean_confidence - aggregated.accuracy as overconfidence,
        auroc.auroc_confidence,
        bootstrapped.accuracy_ci_low,
        bootstrapped.accuracy_ci_high,
        bootstrapped.confidence_ci_low,
        bootstrapped.confidence_ci_high,
        leaves.leaf_fingerprint
    from aggregated
    inner join leaves on aggregated.leaf_fingerprint = leaves.leaf_fingerprint
    left join benchmarks on leaves.benchmark = benchmarks.benchmark
    left join ece
        on
            aggregated.leaf_fingerprint = ece.leaf_fingerprint
            and aggregated.length_normalization = ece.length_normalization
    left join auroc
        on
            aggregated.leaf_fingerprint = auroc.leaf_fingerprint
            and aggregated.length_normalization = auroc.length_normalization
    left join bootstrapped
        on
            aggregated.leaf_fingerprint = bootstrapped.leaf_fingerprint
            and aggregated.length_normalization = bootstrapped.length_normalization
)

select * from final
