-- grain: one row per scale x benchmark x metric x length_normalization (the PT candidates)
-- Which PT metric best predicts the SFT ranking? Decision accuracy of each PT (metric,
-- normalization) ordering of the units against the SFT ordering by accuracy at the benchmark's
-- primary normalization: the share of unit pairs u < v ordered alike, pairs tied on either side
-- left out (n_tied). Values are seed-averaged, rounded to 12 decimals, and nll's sign is flipped
-- (higher is better for every metric). is_best marks rank 1; ties go to the first in
-- (metric, length_normalization) order. Definitions: docs/metrics_decisions.md.
with

scores as (
    select * from {{ ref('fct_benchmark_scores') }}
),

unit_scores as (
    select
        scale,
        unit,
        stage,
        benchmark,
        length_normalization,
        is_primary_normalization,
        avg(accuracy) as accuracy,
        avg(mean_confidence) as confidence,
        avg(mean_prob_gold) as prob_gold,
        avg(nll) as nll
    from scores
    group by all
),

oriented as (
    select
        unit_scores.* exclude (accuracy, confidence, prob_gold, nll),
        metrics.metric,
        round(case metrics.metric
            when 'accuracy' then unit_scores.accuracy
            when 'confidence' then unit_scores.confidence
            when 'prob_gold' then unit_scores.prob_gold
            else -unit_scores.nll
        end, 12) as value
    from unit_scores
    cross join (select unnest(['accuracy', 'confidence', 'prob_gold', 'nll']) as metric) as metrics
),

candidates as (
    select * from oriented
    where stage = 'pretrain' and value is not null
),

targets as (
    select * from oriented
    where stage = 'sft' and metric = 'accuracy' and is_primary_normalization
),

pairs as (
    select
        first.scale,
        first.benchmark,
        first.metric,
        first.length_normalization,
        sign(first.value - second.value) * sign(first_target.value - second_target.value)
            as agreement
    from candidates as first
    inner join candidates as second
        on
            first.scale = second.scale
            and first.benchmark = second.benchmark
            and first.metric = second.metric
            and first.length_normalization = second.length_normalization
            and first.unit < second.unit
    inner join targets as first_target
        on
            first.scale = first_target.scale
            and first.benchmark = first_target.benchmark
            and first.unit = first_target.unit
    inner join targets as second_target
        on
            second.scale = second_target.scale
            and second.benchmark = second_target.benchmark
            and second.unit = second_target.unit
),

counted as (
    select
        scale,
        benchmark,
        metric,
        length_normalization,
        count(*) filter (where agreement > 0) as n_agree,
        count(*) filter (where agreement < 0) as n_disagree,
        count(*) filter (where agreement = 0) as n_tied
    from pairs
    group by all
),

shares as (
    select
        counted.*,
        case
            when counted.n_agree + counted.n_disagree > 0
                then counted.n_agree / (counted.n_agree + counted.n_disagree)
        end as decision_accuracy
    from counted
),

final as (
    select
        shares.*,
        shares.decision_accuracy is not null and row_number() over (
            partition by shares.scale, shares.benchmark
            order by
                shares.decision_accuracy desc nulls last,
                shares.metric asc,
                shares.length_normalization asc
        ) = 1 as is_best
    from shares
)

select * from final
