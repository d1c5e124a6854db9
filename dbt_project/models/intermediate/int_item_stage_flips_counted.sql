{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_stale_leaf_pairs() }}",
) }}
-- grain: one row per scale x mixture x seed x benchmark x length_normalization
-- Incremental over (PT leaf, SFT leaf) pairs: only pairs with a new pair_fingerprint are joined.
-- No q_value here: BH depends on the whole family, so fct_item_stage_flips adds it.
-- The 2 x 2 table of PT -> SFT correctness over items scored at both stages, and the Pearson r
-- over items of prob_gold at PT with prob_gold at SFT. BH family: length_normalization.
-- int_item_predictions_scored is read in place by the two sides below, not through an import CTE:
-- DuckDB materializes a CTE referenced twice, which would copy all 7M rows on every build.
with

all_pairs as (
    {{ leaf_pairs_sql() }}
),

pairs as (
    select * from all_pairs
    {%- if is_incremental() %}
        where all_pairs.pair_fingerprint not in (select distinct pair_fingerprint from {{ this }})
    {%- endif %}
),

pretrain_items as (
    select
        pairs.pair_fingerprint,
        item_predictions.*
    from {{ ref('int_item_predictions_scored') }} as item_predictions
    inner join pairs on item_predictions.leaf_fingerprint = pairs.leaf_fingerprint_pretrain
),

sft_items as (
    select
        pairs.pair_fingerprint,
        item_predictions.item_id,
        item_predictions.length_normalization,
        item_predictions.is_correct,
        item_predictions.prob_gold
    from {{ ref('int_item_predictions_scored') }} as item_predictions
    inner join pairs on item_predictions.leaf_fingerprint = pairs.leaf_fingerprint_sft
),

paired as (
    select
        pretrain.scale,
        pretrain.mixture,
        pretrain.seed,
        pretrain.benchmark,
        pretrain.category,
        pretrain.length_normalization,
        pretrain.pair_fingerprint,
        pretrain.is_correct as is_correct_pretrain,
        sft.is_correct as is_correct_sft,
        pretrain.prob_gold as prob_gold_pretrain,
        sft.prob_gold as prob_gold_sft
    from pretrain_items as pretrain
    inner join sft_items as sft
        on
            pretrain.pair_fingerprint = sft.pair_fingerprint
            and pretrain.item_id = sft.item_id
            and pretrain.length_normalization = sft.length_normalization
),

aggregated as (
    select
        paired.scale,
        paired.mixture,
        paired.seed,
        paired.benchmark,
        paired.category,
        paired.length_normalization,
        paired.pair_fingerprint,
        count(*) as n_items,
        count(*) filter (where paired.is_correct_pretrain and paired.is_correct_sft)
            as n_correct_to_correct,
        count(*) filter (where paired.is_correct_pretrain and not paired.is_correct_sft)
            as n_correct_to_wrong,
        count(*) filter (where not paired.is_correct_pretrain and paired.is_correct_sft)
            as n_wrong_to_correct,
        count(*) filter (where not paired.is_correct_pretrain and not paired.is_correct_sft)
            as n_wrong_to_wrong,
        {{ correlation_aggregates('paired.prob_gold_pretrain', 'paired.prob_gold_sft') }}
    from paired
    group by all
),

final as (
    select
        aggregated.* rename (aggregated.n as n_prob_gold, aggregated.r as r_prob_gold),
        {{ correlation_inference('aggregated.r', 'aggregated.n') }}
    from aggregated
)

select * from final
