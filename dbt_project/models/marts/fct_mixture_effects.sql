-- grain: one row per scale x stage x benchmark x metric x length_normalization x method
-- corr over mixtures (those with a config) of the mixture's code share with the metric. Mixtures
-- without a mixture config (imports) are left out. BH family: scale x stage x metric x
-- length_normalization x method. Web-source contrasts are in fct_web_source_contrasts.
with

unit_values as (
    select * from {{ ref('fct_unit_scores') }}
),

mixtures as (
    select * from {{ ref('stg_lake__config_mixtures') }}
),

inputs as (
    select
        unit_values.scale,
        unit_values.stage,
        unit_values.benchmark,
        unit_values.category,
        unit_values.metric,
        unit_values.length_normalization,
        unit_values.is_primary_normalization,
        mixtures.code_share as x,
        unit_values.value as y
    from unit_values
    inner join mixtures on unit_values.mixture = mixtures.mixture
),

{{ correlation_ctes(
    'inputs',
    ['scale', 'stage', 'benchmark', 'category', 'metric', 'length_normalization',
     'is_primary_normalization'],
    ['scale', 'stage', 'metric', 'length_normalization'],
) }},

final as (
    select * from correlations
)

select * from final
