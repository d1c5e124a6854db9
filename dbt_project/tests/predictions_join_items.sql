-- Per-choice prediction rows (scored or imported) whose item_id is in no benchmark_items row of
-- their benchmark would vanish from the marts (the softmax joins items for the gold index): this
-- test makes them a build error that names the run, stage and benchmark (one row each). Imported
-- per-item outcomes (item_results) keep their rows without items, so they are not read here.
-- Only the leaves this build added (every leaf on a full refresh); `xstage build` explains a
-- failure through `dbt show` of this test (all leaves).
with

leaves as (
    select * from {{ ref('int_prediction_leaves_resolved') }}
    {%- if flags.WHICH != 'show' %}
    where invocation_id = '{{ invocation_id }}'
    {%- endif %}
),

items as (
    select * from {{ ref('int_benchmark_items_keyed') }}
),

lake_rows as (
    select * from {{ ref('stg_lake__predictions') }}
),

unjoined as (
    select
        leaves.run_id,
        leaves.stage,
        leaves.benchmark,
        lake_rows.item_id
    from lake_rows
    inner join leaves
        on
            lake_rows.scale = leaves.scale
            and lake_rows.mixture = leaves.mixture
            and lake_rows.seed = leaves.seed
            and lake_rows.stage = leaves.stage
            and lake_rows.benchmark = leaves.benchmark
            and lake_rows.checkpoint_step = leaves.checkpoint_step
    anti join items
        on
            lake_rows.benchmark = items.benchmark
            and lake_rows.item_id = items.item_id
),

final as (
    select
        unjoined.run_id,
        unjoined.stage,
        unjoined.benchmark,
        count(*) as n_rows,
        count(distinct unjoined.item_id) as n_items,
        min(unjoined.item_id) as first_item_id,
        'prediction rows whose item_id is not in lake/benchmark_items for their benchmark: '
        || 're-ingest the benchmark, or re-import the run with the ingested item ids' as problem
    from unjoined
    group by all
)

select * from final
