-- grain: one row per benchmark (config)
with

source as (
    {{ lake_source('config_benchmarks', {
        'benchmark': 'varchar', 'display_name': 'varchar', 'category': 'varchar',
        'chance_accuracy': 'double', 'primary_normalization': 'varchar', 'formulation': 'varchar',
        'n_fewshot': 'bigint', 'benchmark_version': 'bigint'}) }}
),

renamed as (
    select
        -- ids
        cast(source.benchmark as varchar) as benchmark,
        -- identity
        cast(source.display_name as varchar) as display_name,
        cast(source.category as varchar) as category,
        cast(source.formulation as varchar) as formulation,
        cast(source.n_fewshot as bigint) as n_fewshot,
        cast(source.benchmark_version as bigint) as benchmark_version,
        -- measures
        cast(source.chance_accuracy as double) as chance_accuracy,
        cast(source.primary_normalization as varchar) as primary_normalization
    from source
),

final as (
    select * from renamed
)

select * from final
