{{ config(materialized='table') }}
-- grain: one row per lake leaf (scale x mixture x seed x stage x benchmark) that this build adds to
-- marts.fct_item_predictions: its leaf_fingerprint is not there yet (every leaf on a full refresh
-- or a first build). Built before fct_item_predictions (which depends on it), so the data tests of
-- the two 5.76M-row relations check only these leaves' rows; rows of other leaves are unchanged
-- since the build that inserted (and checked) them.
{%- set built = adapter.get_relation(
    database=this.database, schema='marts', identifier='fct_item_predictions'
) if execute else none %}
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
    {%- if built is not none and not flags.FULL_REFRESH %}
    where leaves.leaf_fingerprint not in (
        select distinct built_items.leaf_fingerprint from {{ built }} as built_items
    )
    {%- endif %}
)

select * from final
