-- grain: one row per run_id x stage x benchmark x metric (imported runs with harness metrics)
-- The source harness's own per-item metrics (lake/imported_metrics) beside the same metric
-- computed here from the imported log-probs, at the run x stage's latest checkpoint. A harness
-- metric with an xstage counterpart (lm-eval acc = none, acc_norm = per_char; lighteval's
-- loglikelihood_acc* likewise) gets our value, the difference and the items that disagree;
-- other metrics keep the harness value and NULLs.
with

imported_metrics as (
    select * from {{ ref('stg_lake__imported_metrics') }}
),

leaves as (
    select * from {{ ref('int_prediction_leaves_resolved') }}
),

item_predictions as (
    select * from {{ ref('int_item_predictions_scored') }}
),

counterparts as (
    select
        mapping.metric,
        mapping.length_normalization
    from (
        values
        ('acc', 'none'),
        ('acc_norm', 'per_char'),
        ('acc_mutual_info', 'pmi'),
        ('loglikelihood_acc', 'none'),
        ('loglikelihood_acc_norm', 'per_char'),
        ('loglikelihood_acc_norm_nospace', 'per_char'),
        ('loglikelihood_acc_norm_single_token', 'per_token')
    ) as mapping (metric, length_normalization)
),

per_item as (
    select
        leaves.run_id,
        leaves.scale,
        leaves.mixture,
        leaves.seed,
        leaves.stage,
        leaves.checkpoint_step,
        leaves.benchmark,
        imported_metrics.metric,
        imported_metrics.source_task,
        counterparts.length_normalization,
        imported_metrics.metric_value,
        cast(item_predictions.is_correct as double) as xstage_value
    from imported_metrics
    inner join leaves
        on
            imported_metrics.scale = leaves.scale
            and imported_metrics.mixture = leaves.mixture
            and imported_metrics.seed = leaves.seed
            and imported_metrics.stage = leaves.stage
            and imported_metrics.benchmark = leaves.benchmark
            and imported_metrics.checkpoint_step = leaves.checkpoint_step
    left join counterparts on imported_metrics.metric = counterparts.metric
    left join item_predictions
        on
            leaves.leaf_fingerprint = item_predictions.leaf_fingerprint
            and imported_metrics.item_id = item_predictions.item_id
            and counterparts.length_normalization = item_predictions.length_normalization
),

final as (
    select
        per_item.run_id,
        per_item.scale,
        per_item.mixture,
        per_item.mixture as unit,
        per_item.seed,
        per_item.stage,
        per_item.checkpoint_step,
        per_item.benchmark,
        per_item.metric,
        min(per_item.source_task) as source_task,
        any_value(per_item.length_normalization) as length_normalization,
        count(*) as n_items,
        count(per_item.xstage_value) as n_items_compared,
        avg(per_item.metric_value) as harness_value,
        avg(per_item.xstage_value) as xstage_value,
        avg(per_item.xstage_value) - avg(per_item.metric_value) as difference,
        count(*) filter (where per_item.xstage_value != per_item.metric_value)
            as n_items_disagreeing
    from per_item
    group by all
)

select * from final
