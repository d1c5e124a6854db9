-- grain: one row per scale x benchmark x metric x length_normalization (Pearson)
-- Would the transfer r survive another seed? r over units of PT vs SFT computed per seed (the
-- units that have that seed at both stages) and on seed means (the default r), and how often the
-- seeds agree with the seed-mean r on sign and on significance (p < 0.05), over the seeds whose r
-- is defined. seed_std: sample std over a cell's seeds, mean over the unit x stage cells with at
-- least two seeds. Definitions: docs/metrics_decisions.md.
with

scores as (
    select * from {{ ref('fct_benchmark_scores') }}
),

unpivoted as (
    select
        scores.scale,
        scores.unit,
        scores.seed,
        scores.stage,
        scores.benchmark,
        scores.category,
        scores.length_normalization,
        'accuracy' as metric,
        scores.accuracy as value
    from scores
    union all
    select
        scores.scale,
        scores.unit,
        scores.seed,
        scores.stage,
        scores.benchmark,
        scores.category,
        scores.length_normalization,
        'confidence' as metric,
        scores.mean_confidence as value
    from scores
    union all
    select
        scores.scale,
        scores.unit,
        scores.seed,
        scores.stage,
        scores.benchmark,
        scores.category,
        scores.length_normalization,
        'prob_gold' as metric,
        scores.mean_prob_gold as value
    from scores
    union all
    select
        scores.scale,
        scores.unit,
        scores.seed,
        scores.stage,
        scores.benchmark,
        scores.category,
        scores.length_normalization,
        'nll' as metric,
        scores.nll as value
    from scores
),

-- seed null: the seed-mean row of a unit x stage
by_seed as (
    select * from unpivoted
    union all
    select
        scale,
        unit,
        null as seed,
        stage,
        benchmark,
        category,
        length_normalization,
        metric,
        avg(value) as value
    from unpivoted
    group by all
),

paired as (
    select
        pretrain.scale,
        pretrain.benchmark,
        pretrain.category,
        pretrain.metric,
        pretrain.length_normalization,
        pretrain.seed,
        pretrain.value as x,
        sft.value as y
    from by_seed as pretrain
    inner join by_seed as sft
        on
            pretrain.scale = sft.scale
            and pretrain.unit = sft.unit
            and pretrain.seed is not distinct from sft.seed
            and pretrain.benchmark = sft.benchmark
            and pretrain.metric = sft.metric
            and pretrain.length_normalization = sft.length_normalization
    where pretrain.stage = 'pretrain' and sft.stage = 'sft'
),

{{ correlation_ctes(
    'paired',
    ['scale', 'benchmark', 'category', 'metric', 'length_normalization', 'seed'],
    ['scale', 'metric', 'length_normalization', 'seed'],
) }},

pearson as (
    select * from correlations
    where method = 'pearson'
),

cell_spread as (
    select
        scale,
        unit,
        stage,
        benchmark,
        metric,
        length_normalization,
        stddev_samp(value) as cell_std
    from unpivoted
    group by all
    having count(*) >= 2
),

seed_spread as (
    select
        scale,
        benchmark,
        metric,
        length_normalization,
        avg(cell_std) as seed_std
    from cell_spread
    group by all
),

per_seed as (
    select
        seeds.scale,
        seeds.benchmark,
        seeds.metric,
        seeds.length_normalization,
        count(*) as n_seeds,
        count(seeds.r) as n_seeds_defined,
        min(seeds.r) as r_seed_min,
        max(seeds.r) as r_seed_max,
        -- NULL r (seed or seed mean) leaves the seed out of both shares
        avg(cast(sign(seeds.r) = sign(means.r) as double)) as sign_agreement,
        avg(cast((seeds.p_value < 0.05) = (means.p_value < 0.05) as double))
            as significance_agreement
    from pearson as seeds
    inner join pearson as means
        on
            seeds.scale = means.scale
            and seeds.benchmark = means.benchmark
            and seeds.metric = means.metric
            and seeds.length_normalization = means.length_normalization
    where seeds.seed is not null and means.seed is null
    group by all
),

final as (
    select
        means.scale,
        means.benchmark,
        means.category,
        means.metric,
        means.length_normalization,
        means.n as n_units,
        means.r as r_seed_mean,
        means.p_value as p_seed_mean,
        per_seed.n_seeds,
        per_seed.n_seeds_defined,
        per_seed.r_seed_min,
        per_seed.r_seed_max,
        per_seed.sign_agreement,
        per_seed.significance_agreement,
        seed_spread.seed_std
    from pearson as means
    inner join per_seed
        on
            means.scale = per_seed.scale
            and means.benchmark = per_seed.benchmark
            and means.metric = per_seed.metric
            and means.length_normalization = per_seed.length_normalization
    left join seed_spread
        on
            means.scale = seed_spread.scale
            and means.benchmark = seed_spread.benchmark
            and means.metric = seed_spread.metric
            and means.length_normalization = seed_spread.length_normalization
    where means.seed is null
)

select * from final
