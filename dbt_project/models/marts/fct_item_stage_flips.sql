-- grain: one row per scale x mixture x seed x benchmark x length_normalization
-- The incremental counts of int_item_stage_flips_counted plus the BH q_value of the prob_gold r
-- (family: length_normalization), which depends on every row and so is computed here.
with

counted as (
    select * from {{ ref('int_item_stage_flips_counted') }}
),

{{ bh_q_value_ctes('with_q', 'counted', ['length_normalization']) }},

final as (
    select with_q.* exclude (with_q.pair_fingerprint)
    from with_q
)

select * from final
