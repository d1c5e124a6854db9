{#- Rows of a per-benchmark relation (with length_normalization and is_primary_normalization)
    for marts that combine several benchmarks: every row under its own normalization
    (is_primary_normalization false), plus the primary selection, each benchmark at its config's
    primary normalization, with length_normalization NULL (the benchmarks' normalizations differ)
    and is_primary_normalization true. Joins on length_normalization then use
    `is not distinct from`. -#}
{% macro with_primary_selection(relation) -%}
    select * replace (false as is_primary_normalization)
    from {{ relation }}
    union all
    select * replace (
        cast(null as varchar) as length_normalization,
        true as is_primary_normalization
    )
    from {{ relation }}
    where is_primary_normalization
{%- endmacro %}
