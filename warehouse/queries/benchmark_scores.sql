-- description: Accuracy, confidence and calibration of every run and stage on one benchmark.
-- param: benchmark
-- param: normalization=none
select
    run_id, scale, mixture, seed, stage, n_items, accuracy, mean_confidence, brier,
    ece_15_equal_width, accuracy_ci_low, accuracy_ci_high
from marts.fct_benchmark_scores
where benchmark = $benchmark and length_normalization = $normalization
order by scale, mixture, seed, stage
