-- grain: one row per run_id x stage x checkpoint_step
with

source as (
    {{ lake_source('runs', {
        'run_id': 'varchar', 'scale': 'varchar', 'n_params_nominal': 'bigint', 'n_params': 'bigint',
        'mixture': 'varchar', 'seed': 'bigint', 'stage': 'varchar', 'origin': 'varchar',
        'checkpoint_step': 'bigint', 'n_tokens_seen': 'bigint', 'checkpoint_path': 'varchar',
        'config_hash': 'varchar', 'git_sha': 'varchar', 'created_at': 'timestamptz'}) }}
),

renamed as (
    select
        -- ids
        cast(source.run_id as varchar) as run_id,
        -- identity
        cast(source.scale as varchar) as scale,
        cast(source.n_params_nominal as bigint) as n_params_nominal,
        cast(source.n_params as bigint) as n_params,
        cast(source.mixture as varchar) as mixture,
        cast(source.seed as bigint) as seed,
        cast(source.stage as varchar) as stage,
        cast(source.origin as varchar) as origin,
        cast(source.checkpoint_step as bigint) as checkpoint_step,
        cast(source.n_tokens_seen as bigint) as n_tokens_seen,
        -- provenance
        cast(source.checkpoint_path as varchar) as checkpoint_path,
        cast(source.config_hash as varchar) as config_hash,
        cast(source.git_sha as varchar) as git_sha,
        cast(source.created_at as timestamptz) as created_at
    from source
),

final as (
    select * from renamed
)

select * from final
