-- grain: one row per benchmark x item_id
with

source as (
    {{ lake_source('benchmark_items', {
        'benchmark': 'varchar', 'item_id': 'varchar', 'split': 'varchar', 'gold_index': 'smallint',
        'category': 'varchar', 'n_choices': 'smallint', 'item_hash': 'varchar', 'source': 'varchar'}) }}
),

renamed as (
    select
        -- ids
        cast(source.benchmark as varchar) as benchmark,
        cast(source.item_id as varchar) as item_id,
        cast(source.item_hash as varchar) as item_hash,
        -- identity
        cast(source.split as varchar) as split,
        cast(source.category as varchar) as category,
        cast(source.source as varchar) as item_source,
        -- measures
        cast(source.gold_index as smallint) as gold_index,
        cast(source.n_choices as smallint) as n_choices
    from source
),

final as (
    select * from renamed
)

select * from final
