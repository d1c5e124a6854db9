-- grain: one row per scale x unit x stage x benchmark x length_normalization x metric
with

unit_scores as (
    select * from {{ ref('int_unit_scores_averaged') }}
),

final as (
    select
        unit_scores.* exclude (accuracy, confidence),
        'accuracy' as metric,
        unit_scores.accuracy as value
    from unit_scores
    union all
    select
        unit_scores.* exclude (accuracy, confidence),
        'confidence' as metric,
        unit_scores.confidence as value
    from unit_scores
)

select * from final
