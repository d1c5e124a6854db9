-- grain: one row per benchmark (present in benchmark_items or configs)
-- Config values win; without a config the category comes from the items, chance from 1/n_choices
-- and the primary normalization is 'none' (e.g. generated or imported benchmarks).
with

items as (
    select * from {{ ref('stg_lake__benchmark_items') }}
),

configs as (
    select * from {{ ref('stg_lake__config_benchmarks') }}
),

from_items as (
    select
        items.benchmark,
        min(items.category) as category,
        avg(1.0 / items.n_choices) as chance_accuracy,
        count(*) as n_items
    from items
    group by items.benchmark
),

final as (
    select
        coalesce(configs.benchmark, from_items.benchmark) as benchmark,
        coalesce(configs.display_name, from_items.benchmark, configs.benchmark) as display_name,
        coalesce(configs.category, from_items.category) as category,
        coalesce(configs.chance_accuracy, from_items.chance_accuracy) as chance_accuracy,
        coalesce(configs.primary_normalization, 'none') as primary_normalization,
        configs.formulation,
        configs.n_fewshot,
        configs.benchmark_version,
        coalesce(from_items.n_items, 0) as n_items,
        configs.benchmark is not null as has_config
    from configs
    full outer join from_items on configs.benchmark = from_items.benchmark
)

select * from final
