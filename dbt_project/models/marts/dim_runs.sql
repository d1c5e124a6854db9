-- grain: one row per run_id x stage (the checkpoint the marts use: the latest)
with

leaves as (
    select * from {{ ref('int_prediction_leaves_resolved') }}
),

mixtures as (
    select * from {{ ref('stg_lake__config_mixtures') }}
),

final as (
    select
        leaves.run_id,
        leaves.scale,
        leaves.n_params_nominal,
        leaves.n_params,
        leaves.mixture,
        leaves.seed,
        leaves.stage,
        leaves.origin,
        leaves.checkpoint_step,
        leaves.n_tokens_seen,
        mixtures.web_source,
        mixtures.web_share,
        mixtures.code_share,
        mixtures.curated_share,
        count(*) as n_benchmarks
    from leaves
    left join mixtures on leaves.mixture = mixtures.mixture
    group by all
)

select * from final
