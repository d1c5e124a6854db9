-- grain: one row per scale x mixture x seed x stage x step
with

source as (
    {{ lake_source('training_metrics', {
        'scale': 'varchar', 'mixture': 'varchar', 'seed': 'varchar', 'stage': 'varchar',
        'step': 'bigint', 'loss': 'double', 'lr': 'double', 'tokens_seen': 'bigint',
        'tokens_per_s': 'double', 'grad_norm': 'double', 'logged_at': 'timestamptz'}) }}
),

renamed as (
    select
        -- identity (partition keys)
        cast(source.scale as varchar) as scale,
        cast(source.mixture as varchar) as mixture,
        cast(source.seed as bigint) as seed,
        cast(source.stage as varchar) as stage,
        -- ids
        cast(source.step as bigint) as step,
        -- measures
        cast(source.loss as double) as loss,
        cast(source.lr as double) as lr,
        cast(source.tokens_seen as bigint) as tokens_seen,
        cast(source.tokens_per_s as double) as tokens_per_s,
        cast(source.grad_norm as double) as grad_norm,
        -- provenance
        cast(source.logged_at as timestamptz) as logged_at
    from source
),

final as (
    select * from renamed
)

select * from final
