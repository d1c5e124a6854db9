{#- Correlation statistics shared by every correlation mart (DESIGN §6, §10). -#}

{#- n, r: r is NULL when n < 3 or either side has zero variance. "Zero" is a standard deviation
    at most 1e-12 x max(1, |mean|): a mean of identical values can differ in its last bits when a
    parallel sum adds in another order, and r of such noise is meaningless. -#}
{% macro correlation_aggregates(x, y) -%}
    count(*) filter (where {{ x }} is not null and {{ y }} is not null) as n,
    case
        when count(*) filter (where {{ x }} is not null and {{ y }} is not null) >= 3
            and {{ has_variance(x, y) }} and {{ has_variance(y, x) }}
            then greatest(-1.0, least(1.0, corr({{ y }}, {{ x }})))
    end as r
{%- endmacro %}

{#- Two-pass (centered) Pearson r over one group: dx, dy are deviations from the group means
    mean_x, mean_y (window averages), so sums of products are exact for small integer or
    half-integer data whatever the row order (DuckDB's one-pass corr() is not) and within ~1e-15 of
    numpy/scipy otherwise. Same NULL rules as correlation_aggregates. -#}
{% macro centered_correlation(dx, dy, mean_x, mean_y) -%}
    count(*) as n,
    case
        when count(*) >= 3
            and sqrt(sum(({{ dx }}) * ({{ dx }})) / count(*))
                > 1e-12 * greatest(1.0, abs(any_value({{ mean_x }})))
            and sqrt(sum(({{ dy }}) * ({{ dy }})) / count(*))
                > 1e-12 * greatest(1.0, abs(any_value({{ mean_y }})))
            then greatest(-1.0, least(1.0,
                sum(({{ dx }}) * ({{ dy }}))
                / sqrt(sum(({{ dx }}) * ({{ dx }})) * sum(({{ dy }}) * ({{ dy }})))
            ))
    end as r
{%- endmacro %}

{% macro has_variance(value, other) -%}
    (stddev_pop({{ value }}) filter (where {{ other }} is not null)
        > 1e-12 * greatest(1.0, abs(avg({{ value }}) filter (where {{ other }} is not null))))
{%- endmacro %}

{#- Two-sided p (t with n - 2 df, scipy via the warehouse plugin) and the Fisher-z 95% CI,
    NULL when n < 4. -#}
{% macro correlation_inference(r, n) -%}
    xstage_r_pvalue({{ r }}, {{ n }}) as p_value,
    case when {{ n }} >= 4 and abs({{ r }}) < 1
        then tanh(atanh({{ r }}) - 1.959963984540054 / sqrt({{ n }} - 3)) end as ci_low,
    case when {{ n }} >= 4 and abs({{ r }}) < 1
        then tanh(atanh({{ r }}) + 1.959963984540054 / sqrt({{ n }} - 3)) end as ci_high
{%- endmacro %}

{#- Tie-averaged rank of `value` within `partition_by` (Spearman's ranks; NULLs unranked).
    Values are rounded to 12 decimals first: means of identical values can differ in their last
    bits (parallel sums), and such noise must tie, not order (warehouse.metrics does the same). -#}
{% macro average_rank(value, partition_by) -%}
    case when {{ value }} is not null then
        rank() over (
            partition by {{ partition_by | join(', ') }}, ({{ value }} is null)
            order by round({{ value }}, 12)
        )
        + (count(*) over (partition by {{ partition_by | join(', ') }}, round({{ value }}, 12)) - 1) / 2.0
    end
{%- endmacro %}

{#- Benjamini-Hochberg q values of p_value within each family (partition_by): two CTEs,
    `<name>_ranked` over `input`, and `<name>` with column q_value. -#}
{% macro bh_q_value_ctes(name, input, partition_by) -%}
    {{ name }}_ranked as (
        select
            *,
            p_value * count(p_value) over (partition by {{ partition_by | join(', ') }})
            / row_number() over (
                partition by {{ partition_by | join(', ') }}, (p_value is null) order by p_value
            ) as bh_raw
        from {{ input }}
    ),

    {{ name }} as (
        select
            * exclude (bh_raw),
            case when p_value is not null then least(1.0, min(bh_raw) over (
                partition by {{ partition_by | join(', ') }}, (p_value is null)
                order by p_value desc, bh_raw asc
                rows between unbounded preceding and current row
            )) end as q_value
        from {{ name }}_ranked
    )
{%- endmacro %}

{#- Pearson and Spearman correlations of x with y per group (long: one row per group x method),
    with n, p_value, Fisher-z CI and the BH q_value within each family (family_cols + method).
    `input` has group_cols, x and y; rows with a NULL side are dropped before ranking. Produces
    CTEs ending in `correlations`. -#}
{% macro correlation_ctes(input, group_cols, family_cols) -%}
    corr_pairs as (
        select {{ group_cols | join(', ') }}, x, y
        from {{ input }}
        where x is not null and y is not null
    ),

    -- one integer per group: windows partitioned by it cost a fraction of a partition over the
    -- group's (up to nine) string columns; NULL group values (the primary selection) match
    corr_group_values as (
        select distinct {{ group_cols | join(', ') }}
        from corr_pairs
    ),

    corr_groups as (
        select
            corr_group_values.*,
            row_number() over () as corr_group
        from corr_group_values
    ),

    corr_keyed as (
        select
            corr_pairs.*,
            corr_groups.corr_group
        from corr_pairs
        inner join corr_groups
            on
            {%- for column in group_cols %}
            {{ "and " if not loop.first }}corr_pairs.{{ column }} is not distinct from corr_groups.{{ column }}
            {%- endfor %}
    ),

    corr_ranked as (
        select
            corr_keyed.*,
            {{ average_rank('corr_keyed.x', ['corr_keyed.corr_group']) }} as x_rank,
            {{ average_rank('corr_keyed.y', ['corr_keyed.corr_group']) }} as y_rank
        from corr_keyed
    ),

    corr_by_method as (
        select {{ group_cols | join(', ') }}, corr_group, 'pearson' as method, x, y
        from corr_ranked
        union all
        select {{ group_cols | join(', ') }}, corr_group, 'spearman' as method, x_rank as x, y_rank as y
        from corr_ranked
    ),

    corr_centered as (
        select
            corr_by_method.*,
            avg(corr_by_method.x) over corr_window as mean_x,
            avg(corr_by_method.y) over corr_window as mean_y
        from corr_by_method
        window corr_window as (partition by corr_by_method.corr_group, corr_by_method.method)
    ),

    corr_aggregated as (
        select
            {{ group_cols | join(', ') }},
            method,
            {{ centered_correlation('x - mean_x', 'y - mean_y', 'mean_x', 'mean_y') }}
        from corr_centered
        group by {{ group_cols | join(', ') }}, method
    ),

    corr_inferred as (
        select
            corr_aggregated.*,
            {{ correlation_inference('corr_aggregated.r', 'corr_aggregated.n') }}
        from corr_aggregated
    ),

    {{ bh_q_value_ctes('correlations', 'corr_inferred', family_cols + ['method']) }}
{%- endmacro %}
