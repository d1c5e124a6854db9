{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_changed_leaves() }}",
) }}
-- grain: one row per scale x mixture x seed x stage x benchmark at the run x stage's latest checkpoint
-- A leaf is one lake partition of predictions (macros/prediction_leaves.sql). Incremental: a
-- leaf whose fingerprint changed or that left the lake is deleted first, new fingerprints are
-- appended stamped with this dbt invocation's id, so `invocation_id = '{{ invocation_id }}'`
-- names the leaves this build adds (every leaf on a full refresh): the data tests of the big
-- relations check only their rows. leaf_key is a dense integer key for the per-item softmax,
-- unique across builds (new leaves are numbered after the kept ones).
with

current_leaves as (
    {{ prediction_leaves_sql() }}
),

new_leaves as (
    select current_leaves.*
    from current_leaves
    {%- if is_incremental() %}
        where current_leaves.leaf_fingerprint not in (
            select kept.leaf_fingerprint from {{ this }} as kept
        )
    {%- endif %}
),

final as (
    select
        new_leaves.*,
        cast(row_number()
            over (
                order by
                    new_leaves.scale, new_leaves.mixture, new_leaves.seed, new_leaves.stage,
                    new_leaves.benchmark
            )
        {%- if is_incremental() %}
            + (select coalesce(max(kept.leaf_key), 0) from {{ this }} as kept)
        {%- endif %} as integer) as leaf_key,
        '{{ invocation_id }}' as invocation_id
    from new_leaves
)

select * from final
