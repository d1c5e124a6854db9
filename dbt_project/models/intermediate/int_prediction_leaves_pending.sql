{{ config(materialized='table') }}
-- grain: one row per lake leaf (scale x mixture x seed x stage x benchmark) that this build adds to
-- marts.fct_item_predictions: its leaf_fingerprint is not there yet (every leaf on a full refresh
-- or a first build). Built before fct_item_predictions (which depends on it), so the data tests of
-- the two 5.76M-row relations check only these leaves' rows; rows of other leaves are unchanged
-- since the build that inserted (and checked) them.
with

leaves as (
    select * from {{ ref('int_prediction_leaves_resolved') }}
),

final as (
    select
        leaves.scale,
        leaves.mixture,
        leaves.seed,
        leaves.stage,
        leaves.benchmark,
        leaves.leaf_fingerprint
    from leaves
    {{ unbuilt_leaves_filter('leaves') }}
)

select * from final
