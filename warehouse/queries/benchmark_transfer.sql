-- description: Per-benchmark cross-stage correlation with n, r, p and 95% CI.
-- param: metric=accuracy
-- param: method=pearson
-- param: normalization=primary
select scale, category, benchmark, metric, method, n, r, p_value, ci_low, ci_high
from marts.fct_cross_stage_transfer
where metric = $metric and method = $method and (
    length_normalization = $normalization
    or ($normalization = 'primary' and is_primary_normalization)
)
order by scale, category, benchmark
