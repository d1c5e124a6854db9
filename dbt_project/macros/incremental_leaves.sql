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

{#- A filter over `leaves` (an int_prediction_leaves_resolved CTE) keeping leaves this model has
    no rows for yet (all of them on a full refresh). Keyed on the model's own rows, not on the
    leaves' invocation_id, so a partial build (--select) that skipped this model is caught up. -#}
{% macro unbuilt_leaves_filter(leaves) -%}
    {%- if is_incremental() %}
    where {{ leaves }}.leaf_fingerprint not in (select distinct leaf_fingerprint from {{ this }})
    {%- endif %}
{%- endmacro %}
