{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_stale_leaves() }}",
) }}
-- grain: one row per run_id x stage x benchmark x length_normalization x binning x bin_index
-- equal_width_15: bin = least(floor(confidence * 15), 14); equal_mass_10: ntile(10) ordered by
-- (confidence, item_id) (DESIGN §10). ECE = sum over bins of n_items / N * abs_gap.
with

item_predictions as (
    select * from {{ ref('int_item_predictions_scored') }}
),

all_leaves as (
    select * from {{ ref('int_prediction_leaves_resolved') }}
),

leaves as (
    select * from all_leaves
    {{ unbuilt_leaves_filter('all_leaves') }}
),

scored as (
    -- only the columns the bins need: window buffers carry every selected column
    select
        item_predictions.leaf_fingerprint,
        item_predictions.length_normalization,
        item_predictions.item_id,
        item_predictions.confidence,
        item_predictions.is_correct
    from item_predictions
    semi join leaves on item_predictions.leaf_fingerprint = leaves.leaf_fingerprint
    where item_predictions.confidence is not null
),

binned as (
    select
        scored.*,
        cast(least(floor(scored.confidence * 15), 14) as integer) as bin_equal_width,
        cast(ntile(10) over (
            partition by scored.leaf_fingerprint, scored.length_normalization
            order by scored.confidence, scored.item_id
        ) - 1 as integer) as bin_equal_mass
    from scored
),

long as (
    select
        binned.* exclude (bin_equal_width, bin_equal_mass),
        'equal_width_15' as binning,
        binned.bin_equal_width as bin_index
    from binned
    union all
    select
        binned.* exclude (bin_equal_width, bin_equal_mass),
        'equal_mass_10' as binning,
        binned.bin_equal_mass as bin_index
    from binned
),

aggregated as (
    select
        long.leaf_fingerprint,
        long.length_normalization,
        long.binning,
        long.bin_index,
        min(long.confidence) as min_confidence,
        max(long.confidence) as max_confidence,
        count(*) as n_items,
        avg(long.confidence) as mean_confidence,
        avg(cast(long.is_correct as double)) as accuracy,
        abs(avg(cast(long.is_correct as double)) - avg(long.confidence)) as abs_gap
    from long
    group by all
),

final as (
    select
        leaves.run_id,
        leaves.scale,
        leaves.mixture,
        leaves.seed,
        leaves.stage,
        leaves.benchmark,
        leaves.category,
        aggregated.length_normalization,
        aggregated.binning,
        aggregated.bin_index,
        aggregated.n_items,
        aggregated.mean_confidence,
        aggregated.accuracy,
        aggregated.abs_gap,
        case
            when aggregated.binning = 'equal_width_15' then aggregated.bin_index / 15.0
            else aggregated.min_confidence
        end as bin_lower,
        case
            when aggregated.binning = 'equal_width_15' then (aggregated.bin_index + 1) / 15.0
            else aggregated.max_confidence
        end as bin_upper,
        aggregated.leaf_fingerprint
    from aggregated
    inner join leaves on aggregated.leaf_fingerprint = leaves.leaf_fingerprint
)

select * from final
