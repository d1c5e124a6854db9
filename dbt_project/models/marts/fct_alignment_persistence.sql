-- grain: one row per scale x category x length_normalization x method
-- Persistence: corr over mixtures of the Pearson r_align at PT with the Pearson r_align at SFT
-- (fct_alignment_by_mixture); `method` is the persistence correlation's own method.
with

by_mixture as (
    select * from {{ ref('fct_alignment_by_mixture') }}
    where method = 'pearson'
),

paired as (
    select
        pretrain.scale,
        pretrain.category,
        pretrain.length_normalization,
        pretrain.is_primary_normalization,
        pretrain.r_align as x,
        sft.r_align as y
    from by_mixture as pretrain
    inner join by_mixture as sft
        on
            pretrain.scale = sft.scale
            and pretrain.mixture = sft.mixture
            and pretrain.category = sft.category
            and pretrain.length_normalization is not distinct from sft.length_normalization
    where pretrain.stage = 'pretrain' and sft.stage = 'sft'
),

{{ correlation_ctes(
    'paired',
    ['scale', 'category', 'length_normalization', 'is_primary_normalization'],
    ['scale', 'length_normalization'],
) }},

final as (
    select * from correlations
)

select * from final
