-- grain: one row per scale x mixture x seed x stage x benchmark x checkpoint_step x item_id x metric
-- The source harness's own per-item metrics of an imported run (xstage import lm-eval|lighteval).
with

source as (
    {{ lake_source('imported_metrics', {
        'scale': 'varchar', 'mixture': 'varchar', 'seed': 'varchar', 'stage': 'varchar',
        'benchmark': 'varchar', 'item_id': 'varchar', 'metric': 'varchar', 'value': 'double',
        'source_task': 'varchar', 'source_file': 'varchar', 'source_line': 'bigint',
        'filename': 'varchar', 'imported_at': 'timestamptz'}) }}
),

renamed as (
    select
        -- identity (partition keys)
        cast(source.scale as varchar) as scale,
        cast(source.mixture as varchar) as mixture,
        cast(source.seed as bigint) as seed,
        cast(source.stage as varchar) as stage,
        cast(source.benchmark as varchar) as benchmark,
        -- the leaf file is part-<checkpoint_step>.parquet
        cast(regexp_extract(source.filename, 'part-(\d+)\.parquet$', 1) as bigint)
            as checkpoint_step,
        -- ids
        cast(source.item_id as varchar) as item_id,
        cast(source.metric as varchar) as metric,
        -- measures
        cast(source.value as double) as metric_value,
        -- provenance
        cast(source.source_task as varchar) as source_task,
        cast(source.source_file as varchar) as source_file,
        cast(source.source_line as bigint) as source_line,
        cast(source.imported_at as timestamptz) as imported_at
    from source
),

final as (
    select * from renamed
)

select * from final
