-- grain: one row per mixture (config)
with

source as (
    {{ lake_source('config_mixtures', {
        'mixture': 'varchar', 'display_name': 'varchar', 'study': 'varchar', 'web_source': 'varchar',
        'web_share': 'double', 'code_share': 'double', 'curated_share': 'double'}) }}
),

renamed as (
    select
        -- ids
        cast(source.mixture as varchar) as mixture,
        -- identity
        cast(source.display_name as varchar) as display_name,
        cast(source.study as varchar) as study,
        cast(source.web_source as varchar) as web_source,
        -- measures
        cast(source.web_share as double) as web_share,
        cast(source.code_share as double) as code_share,
        cast(source.curated_share as double) as curated_share
    from source
),

final as (
    select * from renamed
)

select * from final
