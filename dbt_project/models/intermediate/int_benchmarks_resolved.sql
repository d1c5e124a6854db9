-- grain: one row per benchmark (present in benchmark_items or configs)
-- Config values win; without a config the category comes from the items, chance from 1/n_choices
-- and the primary normalization is 'none' (e.g. generated or imported benchmarks). A benchmark
-- imported as per-item results only (xstage import table) takes the category of its rows
-- (`uncategorized` when the table gave none) and chance from their n_choices, where given.
with

items as (
    select * from {{ ref('stg_lake__benchmark_items') }}
),

item_results as (
    select * from {{ ref('stg_lake__item_results') }}
),

configs as (
    select * from {{ ref('stg_lake__config_benchmarks') }}
),

item_rows as (
    select
        items.benchmark,
        items.category,
        items.n_choices,
        true as is_item
    from items
    union all
    select
        item_results.benchmark,
        item_results.category,
        item_results.n_choices,
        false as is_item
    from item_results
    anti join items on item_results.benchmark = items.benchmark
),

from_items as (
    select
        item_rows.benchmark,
        min(item_rows.category) as category,
        avg(1.0 / item_rows.n_choices) as chance_accuracy,
        count(*) filter (where item_rows.is_item) as n_items
    from item_rows
    group by item_rows.benchmark
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
