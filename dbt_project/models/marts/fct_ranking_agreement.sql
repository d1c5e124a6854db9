-- grain: one row per comparison x scale_a x stage_a x scale_b x stage_b x level x subject x metric x length_normalization
-- How well one ranking of mixtures (the correlation unit) predicts another (DataDecide's decision accuracy):
-- pretrain_vs_sft within a scale, and scale_vs_scale within a stage (smaller scale first, by
-- n_params_nominal then name). Over mixture pairs u < v: pairwise_agreement = concordant /
-- (concordant + discordant), pairs tied on either side left out; kendall_tau is tau-b.
-- level 'category' ranks mixtures by the unweighted mean over the category's benchmarks. Values
-- are compared rounded to 12 decimals (float noise of a mean must tie, as in Spearman ranks).
with

unit_values as (
    select * from {{ ref('fct_unit_scores') }}
),

-- categories mix benchmarks: under each normalization and at each benchmark's primary one
selected as (
    {{ with_primary_selection('unit_values') }}
),

benchmark_level as (
    select
        scale,
        n_params_nominal,
        stage,
        mixture,
        'benchmark' as level,
        benchmark as subject,
        metric,
        length_normalization,
        is_primary_normalization,
        value
    from unit_values
),

category_level as (
    select
        scale,
        max(n_params_nominal) as n_params_nominal,
        stage,
        mixture,
        'category' as level,
        category as subject,
        metric,
        length_normalization,
        is_primary_normalization,
        avg(value) as value
    from selected
    group by all
),

leveled as (
    select * from benchmark_level
    union all
    select * from category_level
),

scale_order as (
    select
        scale,
        row_number() over (order by max(n_params_nominal) nulls first, scale) as scale_rank
    from leveled
    group by scale
),

ranked_values as (
    select
        leveled.*,
        scale_order.scale_rank
    from leveled
    inner join scale_order on leveled.scale = scale_order.scale
    where leveled.value is not null
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
        round(side_a.value, 12) as value_a,
        round(side_b.value, 12) as value_b
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

unit_pairs as (
    select
        first.* exclude (mixture, value_a, value_b),
        sign(first.value_a - second.value_a) as sign_a,
        sign(first.value_b - second.value_b) as sign_b
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
        unit_pairs.* exclude (unit_pairs.sign_a, unit_pairs.sign_b),
        count(*) as n_pairs,
        count(*) filter (where unit_pairs.sign_a * unit_pairs.sign_b > 0) as n_concordant,
        count(*) filter (where unit_pairs.sign_a * unit_pairs.sign_b < 0) as n_discordant,
        count(*) filter (where unit_pairs.sign_a = 0) as n_tied_a,
        count(*) filter (where unit_pairs.sign_b = 0) as n_tied_b
    from unit_pairs
    group by all
),

final as (
    select
        counted.*,
        cast((1 + sqrt(1 + 8 * counted.n_pairs)) / 2 as bigint) as n_mixtures,
        case
            when counted.n_concordant + counted.n_discordant > 0
                then counted.n_concordant / (counted.n_concordant + counted.n_discordant)
        end as pairwise_agreement,
        case
            when counted.n_pairs > counted.n_tied_a and counted.n_pairs > counted.n_tied_b
                then
                    (counted.n_concordant - counted.n_discordant)
                    / sqrt(
                        (counted.n_pairs - counted.n_tied_a) * (counted.n_pairs - counted.n_tied_b)
                    )
        end as kendall_tau
    from counted
)

select * from final
