-- grain: one row per scale x benchmark x metric x length_normalization x method
-- r = corr over mixtures (the correlation unit) of the PT value with the SFT value; BH
-- family: one scale x metric x length_normalization x method (the benchmarks of one question).
with

unit_values as (
    select * from {{ ref('fct_unit_scores') }}
),

paired as (
    select
        pretrain.scale,
        pretrain.benchmark,
        pretrain.category,
        pretrain.metric,
        pretrain.length_normalization,
        pretrain.is_primary_normalization,
        pretrain.value as x,
        sft.value as y
    from unit_values as pretrain
    inner join unit_values as sft
        on
            pretrain.scale = sft.scale
            and pretrain.mixture = sft.mixture
            and pretrain.benchmark = sft.benchmark
            and pretrain.metric = sft.metric
            and pretrain.length_normalization = sft.length_normalization
    where pretrain.stage = 'pretrain' and sft.stage = 'sft'
),

{{ correlation_ctes(
    'paired',
    ['scale', 'benchmark', 'category', 'metric', 'length_normalization',
     'is_primary_normalization'],
    ['scale', 'metric', 'length_normalization'],
) }},

final as (
    select * from correlations
)

select * from final
