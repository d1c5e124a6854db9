-- grain: one row per benchmark x item_id
-- item_key is a dense integer per build: the per-item softmax groups by (leaf_key, item_key)
-- instead of six VARCHAR columns (12 s -> 1.8 s on the paper-size lake, BENCHMARKS.md).
with

items as (
    select * from {{ ref('stg_lake__benchmark_items') }}
),

final as (
    select
        items.benchmark,
        items.item_id,
        items.gold_index,
        items.n_choices,
        cast(row_number() over (order by items.benchmark, items.item_id) as integer) as item_key,
        hash(items.item_id, items.gold_index, items.n_choices) as item_fingerprint
    from items
)

select * from final
