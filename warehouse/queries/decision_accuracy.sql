-- description: Share of mixture pairs PT and SFT (or the small and large scale) order alike, per metric.
-- param: comparison=pretrain_vs_sft
-- param: level=benchmark
select comparison, scale_a, stage_a, scale_b, stage_b, level, subject, metric,
    length_normalization, n_agree, n_disagree, n_tied, decision_accuracy
from marts.fct_decision_accuracy
where comparison = $comparison and level = $level and is_primary_normalization
order by scale_a, stage_a, scale_b, subject, metric
