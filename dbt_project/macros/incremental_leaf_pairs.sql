{#- Incremental marts over (PT leaf, SFT leaf) pairs of one scale x mixture x seed x benchmark:
    rows carry pair_fingerprint = hash(PT leaf_fingerprint, SFT leaf_fingerprint); a rebuild
    deletes pairs that changed or vanished and computes only pairs not in the table yet. -#}
{% macro leaf_pairs_sql() -%}
    select
        pretrain.scale,
        pretrain.mixture,
        pretrain.seed,
        pretrain.benchmark,
        pretrain.leaf_fingerprint as leaf_fingerprint_pretrain,
        sft.leaf_fingerprint as leaf_fingerprint_sft,
        hash(pretrain.leaf_fingerprint, sft.leaf_fingerprint) as pair_fingerprint
    from {{ ref('int_prediction_leaves_resolved') }} as pretrain
    inner join {{ ref('int_prediction_leaves_resolved') }} as sft
        on pretrain.scale = sft.scale
        and pretrain.mixture = sft.mixture
        and pretrain.seed = sft.seed
        and pretrain.benchmark = sft.benchmark
    where pretrain.stage = 'pretrain' and sft.stage = 'sft'
{%- endmacro %}

{% macro delete_stale_leaf_pairs() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where pair_fingerprint not in (select pair_fingerprint from ({{ leaf_pairs_sql() }}))
    {%- endif -%}
{%- endmacro %}
