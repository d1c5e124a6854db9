-- grain: one row per scale x stage x benchmark x metric x length_normalization
-- Signal, noise and SNR (Heineman et al. 2025) over the compared mixtures, seed-averaged per
-- checkpoint step: signal = (max - min) / mean of the mixtures' latest scores; noise = mean over
-- mixtures of stddev_samp / mean of the mixture's last var('last_checkpoints') scores (NULL when a
-- mixture has fewer than 2 or a mean of 0); snr = signal / noise (NULL when noise is NULL or 0).
-- Both are relative, so |value| <= 1e-12 (float noise of equal values) counts as 0.
-- Values are raw (nll is not sign-flipped: dispersion and spread do not depend on direction).
-- Definitions: docs/metrics_decisions.md.
with

checkpoint_scores as (
    select * from {{ ref('fct_checkpoint_scores') }}
),

long_scores as (
    {{ decision_metrics_long('checkpoint_scores', [
        'scale', 'mixture', 'stage', 'benchmark', 'category', 'length_normalization',
        'checkpoint_step']) }}
),

seed_means as (
    select
        long_scores.scale,
        long_scores.mixture,
        long_scores.stage,
        long_scores.benchmark,
        long_scores.category,
        long_scores.metric,
        long_scores.length_normalization,
        long_scores.checkpoint_step,
        avg(long_scores.value) as value
    from long_scores
    where long_scores.value is not null
    group by all
),

ranked as (
    select
        seed_means.*,
        row_number() over (
            partition by
                seed_means.scale, seed_means.mixture, seed_means.stage, seed_means.benchmark,
                seed_means.metric, seed_means.length_normalization
            order by seed_means.checkpoint_step desc
        ) as checkpoint_rank
    from seed_means
),

per_mixture as (
    select
        ranked.scale,
        ranked.mixture,
        ranked.stage,
        ranked.benchmark,
        ranked.category,
        ranked.metric,
        ranked.length_normalization,
        count(*) as n_checkpoints,
        any_value(ranked.value) filter (where ranked.checkpoint_rank = 1) as latest_value,
        avg(ranked.value) as mean_value,
        stddev_samp(ranked.value) as std_value
    from ranked
    where ranked.checkpoint_rank <= {{ var('last_checkpoints') | int }}
    group by all
),

dispersion as (
    select
        per_mixture.scale,
        per_mixture.stage,
        per_mixture.benchmark,
        per_mixture.category,
        per_mixture.metric,
        per_mixture.length_normalization,
        count(*) as n_mixtures,
        min(per_mixture.n_checkpoints) as n_checkpoints,
        (max(per_mixture.latest_value) - min(per_mixture.latest_value))
        / nullif(avg(per_mixture.latest_value), 0) as raw_signal,
        case
            when min(per_mixture.n_checkpoints) >= 2 and bool_and(per_mixture.mean_value != 0)
                then avg(per_mixture.std_value / nullif(per_mixture.mean_value, 0))
        end as raw_noise
    from per_mixture
    where per_mixture.latest_value is not null
    group by all
),

-- both are relative: at most 1e-12 is float noise of equal values, i.e. 0
zeroed as (
    select
        dispersion.* exclude (raw_signal, raw_noise),
        case when abs(dispersion.raw_signal) <= 1e-12 then 0 else dispersion.raw_signal end
            as signal,
        case when abs(dispersion.raw_noise) <= 1e-12 then 0 else dispersion.raw_noise end
            as noise
    from dispersion
),

final as (
    select
        zeroed.*,
        zeroed.signal / nullif(zeroed.noise, 0) as snr
    from zeroed
)

select * from final
