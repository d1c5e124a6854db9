{#- A lake table, or an empty relation with the given typed columns when the table has no files
    yet (training_metrics before any training, runs before any checkpoint, config exports). -#}
{% macro lake_table_exists(table_name) -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set data_dir = env_var('XSTAGE_DATA_DIR', '../data') -%}
    {%- set pattern = data_dir ~ '/lake/' ~ table_name ~ '/**/*.parquet' -%}
    {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro lake_source(table_name, empty_columns) -%}
    {%- if lake_table_exists(table_name) -%}
    select * from {{ source('lake', table_name) }}
    {%- else -%}
    -- depends_on: {{ source('lake', table_name) }}
    select
        {%- for column, type in empty_columns.items() %}
        cast(null as {{ type }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    limit 0
    {%- endif -%}
{%- endmacro %}
