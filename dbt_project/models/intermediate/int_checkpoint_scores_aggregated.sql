{{ config(materialized='table') }}
-- grain: one row per scale x mixture x seed x stage x benchmark x checkpoint_step x length_normalization
-- The earlier checkpoints of the checkpoint-noise path: each run x stage's checkpoints of rank 2
-- .. var('last_checkpoints') (rank 1 = the latest, which fct_benchmark_scores already scores;
-- ranked over the distinct steps of the run x stage, as int_prediction_leaves_resolved picks the
-- latest). Per-item softmax as in int_item_predictions_scored (macros/item_scores.sql), then the
-- four decision metrics; imported outcome-only runs give accuracy, confidence and prob_gold.
-- With last_checkpoints = 1 (the default) the model is empty and reads no lake rows.
{%- set last_checkpoints = var('last_checkpoints') | int %}
with

predictions as (
    select * from {{ ref('stg_lake__predictions') }}
),

item_results as (
    select * from {{ ref('stg_lake__item_results') }}
),

items as (
    select * from {{ ref('int_benchmark_items_keyed') }}
),

partitions as (
    select
        predictions.scale,
        predictions.mixture,
        predictions.seed,
        predictions.stage,
        predictions.benchmark,
        predictions.checkpoint_step
    from predictions
    where {{ last_checkpoints }} > 1
    group by all
    union
    select
        item_results.scale,
        item_results.mixture,
        item_results.seed,
        item_results.stage,
        item_results.benchmark,
        item_results.checkpoint_step
    from item_results
    where {{ last_checkpoints }} > 1
    group by all
),

steps as (
    select distinct
        partitions.scale,
        partitions.mixture,
        partitions.seed,
        partitions.stage,
        partitions.checkpoint_step
    from partitions
),

ranked_steps as (
    select
        steps.*,
        row_number() over (
            partition by steps.scale, steps.mixture, steps.seed, steps.stage
            order by steps.checkpoint_step desc
        ) as checkpoint_rank
    from steps
),

leaves as (
    select
        partitions.*,
        ranked_steps.checkpoint_rank,
        cast(row_number() over (
            order by
                partitions.scale, partitions.mixture, partitions.seed, partitions.stage,
                partitions.benchmark, partitions.checkpoint_step
        ) as integer) as leaf_key
    from partitions
    inner join ranked_steps
        on
            partitions.scale = ranked_steps.scale
            and partitions.mixture = ranked_steps.mixture
            and partitions.seed = ranked_steps.seed
            and partitions.stage = ranked_steps.stage
            and partitions.checkpoint_step = ranked_steps.checkpoint_step
    where ranked_steps.checkpoint_rank between 2 and {{ last_checkpoints }}
),

choices as (
    select
        leaves.leaf_key,
        items.item_key,
        items.gold_index,
        predictions.choice_index,
        predictions.logprob,
        predictions.n_tokens,
        predictions.n_chars,
        predictions.n_bytes,
        predictions.logprob_uncond
    from predictions
    inner join leaves
        on
            predictions.scale = leaves.scale
            and predictions.mixture = leaves.mixture
            and predictions.seed = leaves.seed
            and predictions.stage = leaves.stage
            and predictions.benchmark = leaves.benchmark
            and predictions.checkpoint_step = leaves.checkpoint_step
    inner join items
        on
            predictions.benchmark = items.benchmark
            and predictions.item_id = items.item_id
),

{{ item_score_ctes('choices') }},

scored_aggregated as (
    select
        item_scores.leaf_key,
        item_scores.length_normalization,
        count(*) as n_items,
        avg(cast(item_scores.is_correct as double)) as accuracy,
        avg(item_scores.confidence) as mean_confidence,
        avg(item_scores.prob_gold) as mean_prob_gold,
        avg(item_scores.nll) as nll
    from item_scores
    group by all
),

-- outcome-only imports: the harness's outcome is the same under every length normalization
imported_aggregated as (
    select
        leaves.leaf_key,
        normalizations.length_normalization,
        count(*) as n_items,
        avg(cast(item_results.is_correct as double)) as accuracy,
        avg(item_results.confidence) as mean_confidence,
        avg(item_results.prob_gold) as mean_prob_gold,
        cast(null as double) as nll
    from item_results
    inner join leaves
        on
            item_results.scale = leaves.scale
            and item_results.mixture = leaves.mixture
            and item_results.seed = leaves.seed
            and item_results.stage = leaves.stage
            and item_results.benchmark = leaves.benchmark
            and item_results.checkpoint_step = leaves.checkpoint_step
    cross join
        (select unnest(['none', 'per_token', 'per_char', 'per_byte']) as length_normalization)
            as normalizations
    group by all
),

aggregated as (
    select * from scored_aggregated
    union all
    select * from imported_aggregated
),

final as (
    select
        leaves.scale,
        leaves.mixture,
        leaves.seed,
        leaves.stage,
        leaves.benchmark,
        leaves.checkpoint_step,
        leaves.checkpoint_rank,
        aggregated.length_normalization,
        aggregated.n_items,
        aggregated.accuracy,
        aggregated.mean_confidence,
        aggregated.mean_prob_gold,
        aggregated.nll
    from aggregated
    inner join leaves on aggregated.leaf_key = leaves.leaf_key
)

select * from final
