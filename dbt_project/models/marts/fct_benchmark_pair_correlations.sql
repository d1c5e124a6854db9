-- grain: one row per scale x metric x length_normalization x kind x benchmark_a x benchmark_b x method
-- kind pt_pt and sft_sft: unordered pairs (benchmark_a < benchmark_b) within one stage;
-- cross: ordered pairs a != b of benchmark_a at PT with benchmark_b at SFT. r is over mixtures.
-- length_normalization NULL with is_primary_normalization: each benchmark at its primary one.
with

unit_scores as (
    select * from {{ ref('fct_unit_scores') }}
),

unit_values as (
    {{ with_primary_selection('unit_scores') }}
),

paired as (
    select
        side_a.scale,
        side_a.metric,
        side_a.length_normalization,
        side_a.is_primary_normalization,
        case
            when side_a.stage = 'pretrain' and side_b.stage = 'pretrain' then 'pt_pt'
            when side_a.stage = 'sft' and side_b.stage = 'sft' then 'sft_sft'
            else 'cross'
        end as kind,
        side_a.benchmark as benchmark_a,
        side_a.category as category_a,
        side_b.benchmark as benchmark_b,
        side_b.category as category_b,
        side_a.value as x,
        side_b.value as y
    from unit_values as side_a
    inner join unit_values as side_b
        on
            side_a.scale = side_b.scale
            and side_a.mixture = side_b.mixture
            and side_a.metric = side_b.metric
            and side_a.length_normalization is not distinct from side_b.length_normalization
    where
        (side_a.stage = side_b.stage and side_a.benchmark < side_b.benchmark)
        or (
            side_a.stage = 'pretrain'
            and side_b.stage = 'sft'
            and side_a.benchmark != side_b.benchmark
        )
),

{{ correlation_ctes(
    'paired',
    ['scale', 'metric', 'length_normalization', 'is_primary_normalization', 'kind', 'benchmark_a',
     'category_a', 'benchmark_b', 'category_b'],
    ['scale', 'metric', 'length_normalization', 'kind'],
) }},

final as (
    select
        correlations.*,
        correlations.category_a = correlations.category_b as is_same_category
    from correlations
)

select * from final
