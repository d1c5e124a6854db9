-- description: Benchmarks ranked by how far their PT -> SFT transfer signal can be trusted (SNR, bootstrap interval).
-- param: metric=accuracy
-- Per scale, each benchmark at its primary normalization: the transfer r with its Fisher-z and
-- item-bootstrap intervals, the PT -> SFT decision accuracy with its bootstrap interval, and the
-- checkpoint SNR at PT and SFT (fct_checkpoint_noise; NULL with one checkpoint per run).
-- trust_rank 1 is the most trustworthy: a bootstrap interval of r that excludes 0 first, then
-- the higher of the smaller of the two SNRs, then the narrower bootstrap interval.
with uncertainty as (
    select * from marts.fct_transfer_uncertainty
    where level = 'benchmark' and metric = $metric
),
noise as (
    -- no checkpoint noise at all (noise 0, some signal) ranks as an infinite SNR
    select
        scale, benchmark, stage,
        coalesce(snr, case when noise = 0 and signal > 0 then 'infinity'::double end) as snr
    from marts.fct_checkpoint_noise
    inner join marts.dim_benchmarks using (benchmark)
    where metric = $metric and length_normalization = primary_normalization
),
joined as (
    select
        uncertainty.scale,
        uncertainty.category,
        uncertainty.subject as benchmark,
        uncertainty.n_mixtures,
        uncertainty.r,
        uncertainty.r_fisher_low,
        uncertainty.r_fisher_high,
        uncertainty.r_boot_low,
        uncertainty.r_boot_high,
        uncertainty.r_boot_width,
        uncertainty.r_boot_low > 0 or uncertainty.r_boot_high < 0 as boot_excludes_zero,
        uncertainty.decision_accuracy,
        uncertainty.decision_accuracy_boot_low,
        uncertainty.decision_accuracy_boot_high,
        pt.snr as snr_pretrain,
        sft.snr as snr_sft,
        least(pt.snr, sft.snr) as snr_min
    from uncertainty
    left join noise as pt
        on uncertainty.scale = pt.scale and uncertainty.subject = pt.benchmark
        and pt.stage = 'pretrain'
    left join noise as sft
        on uncertainty.scale = sft.scale and uncertainty.subject = sft.benchmark
        and sft.stage = 'sft'
)
select
    row_number() over (
        partition by scale
        order by coalesce(boot_excludes_zero, false) desc, snr_min desc nulls last,
            r_boot_width asc nulls last, benchmark
    ) as trust_rank,
    *
from joined
order by scale, trust_rank
