-- grain: one row per scale x stage x measure x subject x length_normalization x source_a x source_b
-- Web source A minus web source B, each the mean over the (web, code, curated) proportions both
-- sources were trained with: accuracy and confidence per benchmark (fractions; x 100 = points),
-- Pearson r_align per category. source_a < source_b alphabetically. length_normalization NULL
-- with is_primary_normalization (r_align rows): each benchmark at its primary one.
with

unit_scores as (
    select * from {{ ref('fct_unit_scores') }}
),

alignment as (
    select * from {{ ref('fct_alignment_by_mixture') }}
    where method = 'pearson'
),

mixtures as (
    select * from {{ ref('stg_lake__config_mixtures') }}
),

measures as (
    select
        scale,
        stage,
        mixture,
        metric as measure,
        benchmark as subject,
        length_normalization,
        is_primary_normalization,
        value
    from unit_scores
    union all
    select
        scale,
        stage,
        mixture,
        'r_align' as measure,
        category as subject,
        length_normalization,
        is_primary_normalization,
        r_align as value
    from alignment
),

sourced as (
    select
        measures.*,
        mixtures.web_source,
        concat_ws('/', mixtures.web_share, mixtures.code_share, mixtures.curated_share)
            as proportions
    from measures
    inner join mixtures on measures.mixture = mixtures.mixture
    where measures.value is not null
),

matched as (
    select
        source_a.scale,
        source_a.stage,
        source_a.measure,
        source_a.subject,
        source_a.length_normalization,
        source_a.is_primary_normalization,
        source_a.web_source as source_a,
        source_b.web_source as source_b,
        source_a.value as value_a,
        source_b.value as value_b
    from sourced as source_a
    inner join sourced as source_b
        on
            source_a.scale = source_b.scale
            and source_a.stage = source_b.stage
            and source_a.measure = source_b.measure
            and source_a.subject = source_b.subject
            and source_a.length_normalization is not distinct from source_b.length_normalization
            and source_a.proportions = source_b.proportions
    where source_a.web_source < source_b.web_source
),

final as (
    select
        matched.scale,
        matched.stage,
        matched.measure,
        matched.subject,
        matched.length_normalization,
        matched.is_primary_normalization,
        matched.source_a,
        matched.source_b,
        count(*) as n_proportions,
        avg(matched.value_a) as mean_a,
        avg(matched.value_b) as mean_b,
        avg(matched.value_a) - avg(matched.value_b) as difference
    from matched
    group by all
)

select * from final
