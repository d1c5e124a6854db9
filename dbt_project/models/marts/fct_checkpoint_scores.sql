-- grain: one row per run_id x stage x benchmark x checkpoint_step x length_normalization
-- Each run x stage's last var('last_checkpoints') checkpoints (checkpoint_rank 1 = the latest,
-- exactly fct_benchmark_scores' row; ranks 2.. from int_checkpoint_scores_aggregated), with the
-- four decision metrics. An earlier checkpoint of a benchmark is kept only where the benchmark
-- has a latest row (its identity comes from it).
with

latest as (
    select * from {{ ref('fct_benchmark_scores') }}
),

earlier as (
    select * from {{ ref('int_checkpoint_scores_aggregated') }}
),

latest_rows as (
    select
        latest.run_id,
        latest.scale,
        latest.n_params_nominal,
        latest.mixture,
        latest.seed,
        latest.stage,
        latest.benchmark,
        latest.category,
        latest.length_normalization,
        latest.is_primary_normalization,
        latest.checkpoint_step,
        1 as checkpoint_rank,
        latest.n_items,
        latest.accuracy,
        latest.mean_confidence,
        latest.mean_prob_gold,
        latest.nll
    from latest
),

earlier_rows as (
    select
        latest.run_id,
        latest.scale,
        latest.n_params_nominal,
        latest.mixture,
        latest.seed,
        latest.stage,
        latest.benchmark,
        latest.category,
        latest.length_normalization,
        latest.is_primary_normalization,
        earlier.checkpoint_step,
        earlier.checkpoint_rank,
        earlier.n_items,
        earlier.accuracy,
        earlier.mean_confidence,
        earlier.mean_prob_gold,
        earlier.nll
    from earlier
    inner join latest
        on
            earlier.scale = latest.scale
            and earlier.mixture = latest.mixture
            and earlier.seed = latest.seed
            and earlier.stage = latest.stage
            and earlier.benchmark = latest.benchmark
            and earlier.length_normalization = latest.length_normalization
),

final as (
    select * from latest_rows
    union all
    select * from earlier_rows
)

select * from final
