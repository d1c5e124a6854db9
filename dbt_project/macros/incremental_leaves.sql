{#- Incremental marts keyed on lake leaves (DESIGN §10): rows carry leaf_fingerprint; a rebuild
    deletes rows whose leaf changed or vanished (pre-hook) and inserts only leaves whose current
    fingerprint is not in the table yet. Untouched leaves are not recomputed. -#}
{% macro delete_stale_leaves() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where leaf_fingerprint not in (
        select leaf_fingerprint from {{ ref('int_prediction_leaves_resolved') }}
    )
    {%- endif -%}
{%- endmacro %}

{#- A filter over `leaves` (an int_prediction_leaves_resolved CTE) keeping leaves to (re)build. -#}
{% macro pending_leaves_filter(leaves) -%}
    {%- if is_incremental() %}
    where {{ leaves }}.leaf_fingerprint not in (select distinct leaf_fingerprint from {{ this }})
    {%- endif %}
{%- endmacro %}

{#- int_prediction_leaves_pending: a filter over `leaves` keeping leaves whose fingerprint is not
    in marts.fct_item_predictions yet (no filter on a full refresh or before that table exists).
    Not a ref: the pending leaves are computed before fct_item_predictions inserts them. -#}
{% macro unbuilt_leaves_filter(leaves) -%}
    {%- if execute -%}
    {%- set built = adapter.get_relation(
        database=this.database, schema='marts', identifier='fct_item_predictions'
    ) -%}
    {%- if built is not none and not flags.FULL_REFRESH %}
    where {{ leaves }}.leaf_fingerprint not in (
        select distinct built_items.leaf_fingerprint from {{ built }} as built_items
    )
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
