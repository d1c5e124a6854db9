{#- Every data test of one model in (at most) two scans instead of one query per check: the
    primary key (`unique_key`: columns no two rows share), and in a
    single pass over the rows `not_null` (columns), `accepted_values` ({column: [values]}; NULL
    passes, as in dbt's accepted_values), `between` ({column: [min, max]}; NULL passes, `tolerance`
    absorbs floating-point rounding at the ends, as in the `between` test) and `expressions` (row
    invariants that must not be false). Returns one row per violated check, naming it and counting
    the offending rows (or duplicated keys), so a failure says exactly what broke.
    Scoping for the big relations (rows other builds inserted were checked by those builds):
    `this_build_only` checks only rows stamped with this dbt invocation's id (incremental
    appends); `only_leaves` (int_prediction_leaves_resolved) with `leaf_columns` checks only rows
    whose leaf_columns match a leaf this invocation added (every leaf on a full refresh).
    Explained (`dbt show` of the test, which `xstage build` runs after a failure, on the
    unpublished database): every row unscoped, and per violated check also the rule in words and
    the first three offending keys (warehouse/build_failures.py prints them). -#}
{% test row_checks(
    model, unique_key=[], not_null=[], accepted_values={}, between={}, expressions=[],
    tolerance=1e-12, only_leaves=none, leaf_columns=[], this_build_only=false
) %}
    {%- set explain = flags.WHICH == 'show' -%}
    {%- set checks = [] -%}
    {%- for column in not_null -%}
        {%- do checks.append([
            column, 'not_null(' ~ column ~ ')', column ~ ' is null', column ~ ' is NULL'
        ]) -%}
    {%- endfor -%}
    {%- for column, values in accepted_values.items() -%}
        {%- set quoted = [] -%}
        {%- for value in values -%}
            {%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {%- do checks.append([
            column, 'accepted_values(' ~ column ~ ')',
            column ~ ' not in (' ~ quoted | join(', ') ~ ')',
            column ~ ' is not one of ' ~ quoted | join(', ')
        ]) -%}
    {%- endfor -%}
    {%- for column, bounds in between.items() -%}
        {%- do checks.append([
            column, 'between(' ~ column ~ ', ' ~ bounds[0] ~ ', ' ~ bounds[1] ~ ')',
            column ~ ' < ' ~ bounds[0] ~ ' - ' ~ tolerance ~ ' or ' ~ column ~ ' > '
            ~ bounds[1] ~ ' + ' ~ tolerance,
            column ~ ' is outside [' ~ bounds[0] ~ ', ' ~ bounds[1] ~ ']'
        ]) -%}
    {%- endfor -%}
    {%- for expression in expressions -%}
        {%- do checks.append([
            '', 'expression(' ~ expression ~ ')', 'not (' ~ expression ~ ')',
            'the rule "' ~ expression ~ '" does not hold'
        ]) -%}
    {%- endfor %}
    with

    -- not materialized: the checks below scan it twice or three times; a materialized copy of a
    -- 7M-row relation costs more than the scans
    checked as not materialized (
        select checked_rows.*
        from {{ model }} as checked_rows
        {%- if only_leaves is not none and not explain %}
        semi join {{ only_leaves }} as leaves
            on
            leaves.invocation_id = '{{ invocation_id }}'
            {%- for column in leaf_columns %}
            and checked_rows.{{ column }} = leaves.{{ column }}
            {%- endfor %}
        {%- endif %}
        {%- if this_build_only and not explain %}
        where checked_rows.invocation_id = '{{ invocation_id }}'
        {%- endif %}
    ),

    {%- if explain %}
    {{ row_checks_explained(checks, unique_key) }}
    {%- else %}
    {% if unique_key -%}
    -- duplicates: group the key's hash first (one integer column), then group the real key
    -- columns only over rows whose hash repeats (exact: a hash collision is not a failure)
    repeated_hashes as (
        select hash({{ unique_key | join(', ') }}) as key_hash
        from checked
        group by key_hash
        having count(*) > 1
    ),

    duplicate_keys as (
        select count(*) as n_failures
        from (
            select 1
            from checked
            semi join repeated_hashes
                on hash({{ unique_key | join(', ') }}) = repeated_hashes.key_hash
            group by {{ unique_key | join(', ') }}
            having count(*) > 1
        ) as duplicates
    ),
    {%- endif %}

    row_failures as (
        select
            {%- for check in checks %}
            count(*) filter (where {{ check[2] }}) as check_{{ loop.index }},
            {%- endfor %}
            0 as no_check
        from checked
    ),

    failures as (
        {%- if unique_key %}
        select
            'unique({{ unique_key | join(", ") }})' as failed_check,
            n_failures
        from duplicate_keys
        union all
        {%- endif %}
        {%- for check in checks %}
        select
            '{{ check[1] | replace("'", "''") }}' as failed_check,
            check_{{ loop.index }} as n_failures
        from row_failures
        union all
        {%- endfor %}
        select 'none' as failed_check, no_check as n_failures
        from row_failures
    )

    select failed_check, n_failures
    from failures
    where n_failures > 0
    {%- endif %}
{% endtest %}
