-- grain: one row per scale x mixture x seed x stage x benchmark x checkpoint_step x item_id x choice_index
with

source as (
    {{ lake_source('predictions', {
        'scale': 'varchar', 'mixture': 'varchar', 'seed': 'varchar', 'stage': 'varchar',
        'benchmark': 'varchar', 'item_id': 'varchar', 'choice_index': 'smallint',
        'is_gold': 'boolean', 'logprob': 'double', 'n_tokens': 'integer', 'n_chars': 'integer',
        'n_bytes': 'integer', 'is_greedy': 'boolean', 'logprob_uncond': 'double',
        'checkpoint_step': 'bigint', 'backend': 'varchar', 'backend_version': 'varchar',
        'dtype': 'varchar', 'scored_at': 'timestamptz'}) }}
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
        cast(source.choice_index as smallint) as choice_index,
        -- measures
        cast(source.is_gold as boolean) as is_gold,
        cast(source.logprob as double) as logprob,
        cast(source.n_tokens as integer) as n_tokens,
        cast(source.n_chars as integer) as n_chars,
        cast(source.n_bytes as integer) as n_bytes,
        cast(source.is_greedy as boolean) as is_greedy,
        cast(source.logprob_uncond as double) as logprob_uncond,
        -- provenance
        cast(source.backend as varchar) as backend,
        cast(source.backend_version as varchar) as backend_version,
        cast(source.dtype as varchar) as dtype,
        cast(source.scored_at as timestamptz) as scored_at
    from source
),

final as (
    select * from renamed
)

select * from final
