{#- fct_unit_scores (long, one row per metric) as one row per scale x mixture x stage x benchmark
    x length_normalization with accuracy and confidence side by side, for the alignment marts. -#}
{% macro unit_scores_wide_sql() -%}
    select
        unit_scores.scale,
        unit_scores.mixture,
        unit_scores.stage,
        unit_scores.benchmark,
        unit_scores.category,
        unit_scores.length_normalization,
        unit_scores.is_primary_normalization,
        any_value(unit_scores.value) filter (where unit_scores.metric = 'accuracy') as accuracy,
        any_value(unit_scores.value) filter (where unit_scores.metric = 'confidence') as confidence
    from {{ ref('fct_unit_scores') }} as unit_scores
    group by all
{%- endmacro %}
