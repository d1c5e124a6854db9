-- grain: one row per run_id x stage x benchmark x item_id x length_normalization (item_results)
-- Imported runs without per-choice log-probs (xstage import table) in the column shape of
-- int_item_predictions_scored, for its union: the harness's outcome does not depend on the length
-- normalization, so each item appears once per normalization except pmi; quantities that need
-- the choice distribution (margin, entropy, brier, nll) are NULL.
with

item_results as (
    select * from {{ ref('stg_lake__item_results') }}
),

leaves as (
    select * from {{ ref('int_prediction_leaves_resolved') }}
),

items as (
    select * from {{ ref('int_benchmark_items_keyed') }}
),

normalizations as (
    select unnest(['none', 'per_token', 'per_char', 'per_byte']) as length_normalization
),

final as (
    select
        leaves.run_id,
        leaves.scale,
        leaves.mixture,
        leaves.seed,
        leaves.stage,
        leaves.benchmark,
        coalesce(leaves.category, item_results.category) as category,
        item_results.item_id,
        normalizations.length_normalization,
        coalesce(items.n_choices, item_results.n_choices) as n_choices,
        item_results.predicted_index,
        items.gold_index,
        item_results.is_correct,
        cast(null as smallint) as n_tied_at_max,
        item_results.confidence,
        item_results.prob_gold,
        cast(null as double) as margin,
        cast(null as double) as entropy_nats,
        cast(null as double) as brier,
        cast(null as double) as nll,
        leaves.leaf_fingerprint
    from item_results
    inner join leaves
        on
            item_results.scale = leaves.scale
            and item_results.mixture = leaves.mixture
            and item_results.seed = leaves.seed
            and item_results.stage = leaves.stage
            and item_results.benchmark = leaves.benchmark
            and item_results.checkpoint_step = leaves.checkpoint_step
    left join items
        on
            item_results.benchmark = items.benchmark
            and item_results.item_id = items.item_id
    cross join normalizations
)

select * from final
