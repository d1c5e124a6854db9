-- grain: one row per scale x category x metric x kind x length_normalization x method
-- mean_r: mean over the category's benchmark pairs (pt_pt, sft_sft: unordered i < j; cross:
-- ordered i != j, PT of i with SFT of j) of the pair's r over mixtures; NULL r are left out.
with

pair_correlations as (
    select * from {{ ref('fct_benchmark_pair_correlations') }}
),

final as (
    select
        pair_correlations.scale,
        pair_correlations.category_a as category,
        pair_correlations.metric,
        pair_correlations.kind,
        pair_correlations.length_normalization,
        pair_correlations.is_primary_normalization,
        pair_correlations.method,
        count(pair_correlations.r) as n_pairs,
        avg(pair_correlations.r) as mean_r
    from pair_correlations
    where pair_correlations.is_same_category
    group by all
)

select * from final
