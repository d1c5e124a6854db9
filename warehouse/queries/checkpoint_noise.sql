-- description: Signal, noise and SNR of each benchmark's mixture ranking over the last checkpoints.
-- param: metric=accuracy
-- param: normalization=primary
select noise.scale, noise.stage, noise.category, noise.benchmark, noise.metric,
    noise.length_normalization, noise.n_mixtures, noise.n_checkpoints, noise.signal, noise.noise,
    noise.snr
from marts.fct_checkpoint_noise as noise
inner join marts.dim_benchmarks as benchmarks using (benchmark)
where noise.metric = $metric and (
    noise.length_normalization = $normalization
    or ($normalization = 'primary' and noise.length_normalization = benchmarks.primary_normalization)
)
order by noise.scale, noise.stage, noise.snr desc nulls last, noise.benchmark
