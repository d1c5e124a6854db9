{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_stale_leaves() }}",
) }}
-- grain: one row per run_id x stage x benchmark x item_id x length_normalization
-- Incremental: only leaves (run x stage x benchmark partitions) whose fingerprint is not in the
-- table yet are scored; the leaf filter comes before the softmax. Rows carry the invocation_id
-- of the build that inserted them, so data tests check only this build's rows.
-- marts.fct_item_predictions is a view of this table (analysts query the mart; the bootstrap
-- and the stage flips read this table, so no intermediate model reads a mart).
with

predictions as (
    select * from {{ ref('stg_lake__predictions') }}
),

all_leaves as (
    select * from {{ ref('int_prediction_leaves_resolved') }}
),

items as (
    select * from {{ ref('int_benchmark_items_keyed') }}
),

leaves as (
    select * from all_leaves
    {{ unbuilt_leaves_filter('all_leaves') }}
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

final as (
    select
        leaves.run_id,
        leaves.scale,
        leaves.mixture,
        leaves.seed,
        leaves.stage,
        leaves.benchmark,
        leaves.category,
        items.item_id,
        item_scores.length_normalization,
        item_scores.n_choices,
        item_scores.predicted_index,
        items.gold_index,
        item_scores.is_correct,
        item_scores.n_tied_at_max,
        item_scores.confidence,
        item_scores.prob_gold,
        item_scores.margin,
        item_scores.entropy_nats,
        item_scores.brier,
        item_scores.nll,
        leaves.leaf_fingerprint,
        '{{ invocation_id }}' as invocation_id
    from item_scores
    inner join leaves on item_scores.leaf_key = leaves.leaf_key
    inner join items on item_scores.item_key = items.item_key
    -- imported runs without per-choice log-probs: outcomes only (margin, entropy, ... NULL)
    union all by name
    select
        item_results_scored.*,
        '{{ invocation_id }}' as invocation_id
    from {{ ref('int_item_results_scored') }} as item_results_scored
    semi join leaves on item_results_scored.leaf_fingerprint = leaves.leaf_fingerprint
)

select * from final
