{#- Shared pieces of the decision-statistics marts (docs/metrics_decisions.md). -#}

{#- The four decision metrics of `relation` (a CTE with accuracy, mean_confidence,
    mean_prob_gold, nll) in long form: the `columns` kept, plus metric and value (raw, not
    oriented: nll stays lower-is-better here). -#}
{% macro decision_metrics_long(relation, columns) -%}
    {%- set metrics = [
        ('accuracy', 'accuracy'), ('confidence', 'mean_confidence'),
        ('prob_gold', 'mean_prob_gold'), ('nll', 'nll')] -%}
    {%- for metric, column in metrics %}
    select
        {%- for name in columns %}
        {{ relation }}.{{ name }},
        {%- endfor %}
        '{{ metric }}' as metric,
        {{ relation }}.{{ column }} as value
    from {{ relation }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Higher is better for every metric: nll's sign flipped, rounded to 12 decimals so float noise
    of a mean ties instead of ordering (as the Spearman ranks do). -#}
{% macro oriented_value(metric, value) -%}
    round(case when {{ metric }} = 'nll' then -{{ value }} else {{ value }} end, 12)
{%- endmacro %}

{#- The benchmark scores the correlation marts read (fct_unit_scores): the latest checkpoint's
    (fct_benchmark_scores), or with var('checkpoint_average') each run x stage x benchmark's
    mean over its last var('last_checkpoints') checkpoints (the paper's intervention against
    checkpoint noise). Columns: those fct_unit_scores reads. -#}
{% macro correlation_benchmark_scores() -%}
    {%- if var('checkpoint_average') %}
    select
        checkpoint_scores.scale,
        checkpoint_scores.n_params_nominal,
        checkpoint_scores.mixture,
        checkpoint_scores.seed,
        checkpoint_scores.stage,
        checkpoint_scores.benchmark,
        checkpoint_scores.category,
        checkpoint_scores.length_normalization,
        checkpoint_scores.is_primary_normalization,
        avg(checkpoint_scores.accuracy) as accuracy,
        avg(checkpoint_scores.mean_confidence) as mean_confidence
    from {{ ref('fct_checkpoint_scores') }} as checkpoint_scores
    group by all
    {%- else %}
    select * from {{ ref('fct_benchmark_scores') }}
    {%- endif %}
{%- endmacro %}
