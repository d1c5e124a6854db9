{{ config(materialized='view') }}
-- grain: one row per run_id x stage x benchmark x item_id x length_normalization
with

scored as (
    select * from {{ ref('int_item_predictions_scored') }}
),

final as (
    select * from scored
)

select * from final
