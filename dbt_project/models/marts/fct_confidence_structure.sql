-- grain: one row per scale x metric x length_normalization x method
-- Similarity of the benchmark x benchmark correlation matrices at PT and SFT: Pearson over the
-- n_pairs upper-triangle entries (pairs with both entries defined) of the PT entry with the SFT
-- entry. `method` is how the matrix entries were computed. BH family: metric x normalization x method.
with

pair_correlations as (
    select * from {{ ref('fct_benchmark_pair_correlations') }}
),

paired as (
    select
        pretrain.scale,
        pretrain.metric,
        pretrain.length_normalization,
        pretrain.is_primary_normalization,
        pretrain.method as entry_method,
        pretrain.benchmark_a,
        pretrain.benchmark_b,
        pretrain.r as x,
        sft.r as y
    from pair_correlations as pretrain
    inner join pair_correlations as sft
        on
            pretrain.scale = sft.scale
            and pretrain.metric = sft.metric
            and pretrain.length_normalization is not distinct from sft.length_normalization
            and pretrain.method = sft.method
            and pretrain.benchmark_a = sft.benchmark_a
            and pretrain.benchmark_b = sft.benchmark_b
    where pretrain.kind = 'pt_pt' and sft.kind = 'sft_sft'
),

{{ correlation_ctes(
    'paired',
    ['scale', 'metric', 'length_normalization', 'is_primary_normalization', 'entry_method'],
    ['metric', 'length_normalization', 'entry_method'],
) }},

final as (
    select correlations.* exclude (method) rename (entry_method as method, n as n_pairs)
    from correlations
    where correlations.method = 'pearson'
)

select * from final
