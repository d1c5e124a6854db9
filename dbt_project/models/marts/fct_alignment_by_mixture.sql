-- grain: one row per scale x stage x unit x category x length_normalization x method
-- r_align: corr across the category's benchmarks of accuracy with mean confidence, for one unit
-- (mixture) at one stage (seed-averaged). BH family: scale x stage x length_normalization x method.
with

unit_scores as (
    select * from {{ ref('int_unit_scores_averaged') }}
),

inputs as (
    select
        unit_scores.scale,
        unit_scores.stage,
        unit_scores.unit,
        unit_scores.category,
        unit_scores.length_normalization,
        unit_scores.accuracy as x,
        unit_scores.confidence as y
    from unit_scores
),

{{ correlation_ctes(
    'inputs',
    ['scale', 'stage', 'unit', 'category', 'length_normalization'],
    ['scale', 'stage', 'length_normalization'],
) }},

final as (
    select correlations.* rename (correlations.n as n_benchmarks, correlations.r as r_align)
    from correlations
)

select * from final
