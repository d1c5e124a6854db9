-- grain: one row per scale x category x benchmark x metric x kind x length_normalization x method
-- A benchmark's mean r with the rest of its category ("black sheep" when low): the mean over
-- every same-category pair that contains it (for cross: as the PT side or as the SFT side).
with

pair_correlations as (
    select * from {{ ref('fct_benchmark_pair_correlations') }}
    where is_same_category
),

sides as (
    select
        pair_correlations.* exclude (benchmark_b),
        pair_correlations.benchmark_a as benchmark
    from pair_correlations
    union all
    select
        pair_correlations.* exclude (benchmark_b),
        pair_correlations.benchmark_b as benchmark
    from pair_correlations
),

final as (
    select
        sides.scale,
        sides.category_a as category,
        sides.benchmark,
        sides.metric,
        sides.kind,
        sides.length_normalization,
        sides.is_primary_normalization,
        sides.method,
        count(sides.r) as n_pairs,
        avg(sides.r) as mean_r
    from sides
    group by all
)

select * from final
