{#- The explained form of row_checks' result (after `checked`): one row per violated check with
    the rule in words, the number of offending rows (or duplicated keys) and the first three
    offending keys as `column=value, ...`. -#}
{% macro row_checks_explained(checks, unique_key) -%}
    {%- set key_parts = [] -%}
    {%- for column in unique_key -%}
        {%- do key_parts.append(
            "'" ~ column ~ "=' || coalesce(cast(" ~ column ~ " as varchar), 'NULL')"
        ) -%}
    {%- endfor -%}
    {%- set key_text = key_parts | join(" || ', ' || ") if key_parts else "'(no key)'" -%}
    {%- if unique_key %}
    duplicated_keys as (
        select {{ key_text }} as key_text
        from checked
        group by {{ unique_key | join(', ') }}
        having count(*) > 1
    ),
    {%- endif %}

    explained as (
        {%- if unique_key %}
        select
            'unique({{ unique_key | join(", ") }})' as failed_check,
            'two or more rows share the key ({{ unique_key | join(", ") }})' as rule,
            count(*) as n_failures,
            array_to_string(list(key_text order by key_text)[1:3], '; ') as first_keys
        from duplicated_keys
        union all
        {%- endif %}
        {%- for check in checks %}
        select
            '{{ check[1] | replace("'", "''") }}' as failed_check,
            '{{ check[3] | replace("'", "''") }}' as rule,
            count(*) as n_failures,
            array_to_string(list({{ key_text }} order by {{ key_text }})[1:3], '; ') as first_keys
        from checked
        where {{ check[2] }}
        union all
        {%- endfor %}
        select 'none' as failed_check, '' as rule, 0 as n_failures, '' as first_keys
    )

    select * from explained
    where n_failures > 0
{%- endmacro %}
