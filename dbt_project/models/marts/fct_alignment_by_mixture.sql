-- grain: one row per scale x stage x mixture x category x length_normalization x method
-- r_align: corr across the category's benchmarks of accuracy with mean confidence, for one
-- mixture (the correlation unit) at one stage (seed-averaged). length_normalization NULL with
-- is_primary_normalization: each benchmark at its primary normalization. BH family: scale x
-- stage x length_normalization x method.
with

unit_scores as (
    {{ unit_scores_wide_sql() }}
),

selected as (
    {{ with_primary_selection('unit_scores') }}
),

inputs as (
    select
        selected.scale,
        selected.stage,
        selected.mixture,
        selected.category,
        selected.length_normalization,
        selected.is_primary_normalization,
        selected.accuracy as x,
        selected.confidence as y
    from selected
),

{{ correlation_ctes(
    'inputs',
    ['scale', 'stage', 'mixture', 'category', 'length_normalization', 'is_primary_normalization'],
    ['scale', 'stage', 'length_normalization'],
) }},

final as (
    select correlations.* rename (correlations.n as n_benchmarks, correlations.r as r_align)
    from correlations
)

select * from final
