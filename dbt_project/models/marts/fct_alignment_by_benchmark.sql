-- grain: one row per scale x stage x benchmark x length_normalization x method
-- The per-benchmark alignment variant: corr across mixtures (the correlation unit) of accuracy
-- with mean confidence. BH family: scale x stage x length_normalization x method.
with

unit_scores as (
    {{ unit_scores_wide_sql() }}
),

inputs as (
    select
        unit_scores.scale,
        unit_scores.stage,
        unit_scores.benchmark,
        unit_scores.category,
        unit_scores.length_normalization,
        unit_scores.is_primary_normalization,
        unit_scores.accuracy as x,
        unit_scores.confidence as y
    from unit_scores
),

{{ correlation_ctes(
    'inputs',
    ['scale', 'stage', 'benchmark', 'category', 'length_normalization', 'is_primary_normalization'],
    ['scale', 'stage', 'length_normalization'],
) }},

final as (
    select correlations.* rename (correlations.n as n_mixtures, correlations.r as r_align)
    from correlations
)

select * from final
