-- description: Mean cross-stage r per category and scale (the paper's Figure 1), both metrics.
-- param: method=pearson
-- param: normalization=primary
select scale, category, metric, method, length_normalization, n_benchmarks, mean_r
from marts.fct_category_transfer
where method = $method and (
    length_normalization = $normalization
    or ($normalization = 'primary' and is_primary_normalization)
)
order by scale, category, metric
