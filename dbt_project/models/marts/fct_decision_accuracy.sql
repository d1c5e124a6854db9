-- grain: one row per comparison x scale_a x stage_a x scale_b x stage_b x level x subject x metric x length_normalization
-- Decision accuracy (DataDecide) of the mixture ranking, for every decision metric: the share of
-- mixture pairs u < v that setting A orders the same way as setting B, pairs tied on either side
-- left out (n_tied). pretrain_vs_sft: A = PT, B = SFT of one scale (PT -> SFT); scale_vs_scale: A
-- = the smaller scale, B = the larger, within a stage (small -> large). Values are seed-averaged
-- and rounded to 12 decimals; level 'category' ranks by the unweighted mean over the category's
-- benchmarks (under each normalization, and at each benchmark's primary one with
-- length_normalization NULL). For accuracy and confidence, decision_accuracy equals
-- fct_ranking_agreement's pairwise_agreement. Rows at the primary selection carry the item-
-- bootstrap interval of decision accuracy (int_transfer_intervals_bootstrapped), both
-- comparisons. Definitions: docs/metrics_decisions.md.
with

scores as (
    select * from {{ ref('fct_benchmark_scores') }}
),

long_scores as (
    {{ decision_metrics_long('scores', [
        'scale', 'n_params_nominal', 'mixture', 'stage', 'benchmark', 'category',
        'length_normalization', 'is_primary_normalization']) }}
),

unit_values as (
    select
        long_scores.scale,
        max(long_scores.n_params_nominal) as n_params_nominal,
        long_scores.mixture,
        long_scores.stage,
        long_scores.benchmark,
        long_scores.category,
        long_scores.metric,
        long_scores.length_normalization,
        long_scores.is_primary_normalization,
        avg(long_scores.value) as value
    from long_scores
    where long_scores.value is not null
    group by all
),

selected as (
    {{ with_primary_selection('unit_values') }}
),

leveled as (
    select
        unit_values.* exclude (benchmark, category),
        'benchmark' as level,
        unit_values.benchmark as subject
    from unit_values
    union all by name
    select
        selected.* exclude (benchmark, category, n_params_nominal, value),
        'category' as level,
        selected.category as subject,
        max(selected.n_params_nominal) as n_params_nominal,
        avg(selected.value) as value
    from selected
    group by all
),

scale_order as (
    select
        leveled.scale,
        row_number() over (order by max(leveled.n_params_nominal) nulls first, leveled.scale)
            as scale_rank
    from leveled
    group by leveled.scale
),

ranked_values as (
    select
        leveled.* exclude (value),
        {{ oriented_value('leveled.metric', 'leveled.value') }} as value,
        scale_order.scale_rank
    from leveled
    inner join scale_order on leveled.scale = scale_order.scale
),

matched as (
    select
        case when side_a.scale = side_b.scale then 'pretrain_vs_sft' else 'scale_vs_scale' end
            as comparison,
        side_a.scale as scale_a,
        side_a.stage as stage_a,
        side_b.scale as scale_b,
        side_b.stage as stage_b,
        side_a.level,
        side_a.subject,
        side_a.metric,
        side_a.length_normalization,
        side_a.is_primary_normalization,
        side_a.mixture,
        side_a.value as value_a,
        side_b.value as value_b
    from ranked_values as side_a
    inner join ranked_values as side_b
        on
            side_a.mixture = side_b.mixture
            and side_a.level = side_b.level
            and side_a.subject = side_b.subject
            and side_a.metric = side_b.metric
            and side_a.length_normalization is not distinct from side_b.length_normalization
    where
        (side_a.scale = side_b.scale and side_a.stage = 'pretrain' and side_b.stage = 'sft')
        or (side_a.scale_rank < side_b.scale_rank and side_a.stage = side_b.stage)
),

pair_signs as (
    select
        first.* exclude (mixture, value_a, value_b),
        sign(first.value_a - second.value_a) * sign(first.value_b - second.value_b) as agreement
    from matched as first
    inner join matched as second
        on
            first.comparison = second.comparison
            and first.scale_a = second.scale_a
            and first.stage_a = second.stage_a
            and first.scale_b = second.scale_b
            and first.stage_b = second.stage_b
            and first.level = second.level
            and first.subject = second.subject
            and first.metric = second.metric
            and first.length_normalization is not distinct from second.length_normalization
            and first.mixture < second.mixture
),

counted as (
    select
        pair_signs.* exclude (agreement),
        count(*) filter (where pair_signs.agreement > 0) as n_agree,
        count(*) filter (where pair_signs.agreement < 0) as n_disagree,
        count(*) filter (where pair_signs.agreement = 0) as n_tied
    from pair_signs
    group by all
),

intervals as (
    select * from {{ ref('int_transfer_intervals_bootstrapped') }}
),

final as (
    select
        counted.*,
        case
            when counted.n_agree + counted.n_disagree > 0
                then counted.n_agree / (counted.n_agree + counted.n_disagree)
        end as decision_accuracy,
        intervals.decision_accuracy_boot_low,
        intervals.decision_accuracy_boot_high,
        intervals.n_decision_resamples
    from counted
    left join intervals
        on
            counted.is_primary_normalization
            and counted.comparison = intervals.comparison
            and counted.scale_a = intervals.scale_a
            and counted.stage_a = intervals.stage_a
            and counted.scale_b = intervals.scale_b
            and counted.stage_b = intervals.stage_b
            and counted.level = intervals.level
            and counted.subject = intervals.subject
            and counted.metric = intervals.metric
)

select * from final
