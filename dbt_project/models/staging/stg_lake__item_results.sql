-- grain: one row per scale x mixture x seed x stage x benchmark x checkpoint_step x item_id
-- Per-item outcomes of imported runs without per-choice log-probs (xstage import table).
with

source as (
    {{ lake_source('item_results', {
        'scale': 'varchar', 'mixture': 'varchar', 'seed': 'varchar', 'stage': 'varchar',
        'benchmark': 'varchar', 'item_id': 'varchar', 'is_correct': 'boolean',
        'confidence': 'double', 'prob_gold': 'double', 'predicted_index': 'smallint',
        'category': 'varchar', 'checkpoint_step': 'bigint', 'source': 'varchar',
        'imported_at': 'timestamptz', 'n_choices': 'smallint'}) }}
),

renamed as (
    select
        -- identity (partition keys)
        cast(source.scale as varchar) as scale,
        cast(source.mixture as varchar) as mixture,
        cast(source.seed as bigint) as seed,
        cast(source.stage as varchar) as stage,
        cast(source.benchmark as varchar) as benchmark,
        cast(source.checkpoint_step as bigint) as checkpoint_step,
        -- ids
        cast(source.item_id as varchar) as item_id,
        -- measures
        cast(source.is_correct as boolean) as is_correct,
        cast(source.confidence as double) as confidence,
        cast(source.prob_gold as double) as prob_gold,
        cast(source.predicted_index as smallint) as predicted_index,
        cast(source.category as varchar) as category,
        cast(source.n_choices as smallint) as n_choices,
        -- provenance
        cast(source.source as varchar) as item_results_source,
        cast(source.imported_at as timestamptz) as imported_at
    from source
),

final as (
    select * from renamed
)

select * from final
