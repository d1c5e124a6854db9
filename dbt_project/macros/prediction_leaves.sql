{#- The lake leaves the marts read: one row per scale x mixture x seed x stage x benchmark at the
    run x stage's latest checkpoint, with run identity from lake/runs and a leaf_fingerprint that
    moves whenever the leaf's file, its benchmark's items or its run/benchmark identity change.
    One select, used by int_prediction_leaves_resolved's body (new leaves) and by its pre-hook
    (delete leaves that changed or left the lake). -#}
{% macro prediction_leaves_sql() -%}
    with

    predictions as (
        select * from {{ ref('stg_lake__predictions') }}
    ),

    items as (
        select * from {{ ref('int_benchmark_items_keyed') }}
    ),

    item_results as (
        select * from {{ ref('stg_lake__item_results') }}
    ),

    runs as (
        select * from {{ ref('stg_lake__runs') }}
    ),

    benchmarks as (
        select * from {{ ref('int_benchmarks_resolved') }}
    ),

    partitions as (
        select
            predictions.scale,
            predictions.mixture,
            predictions.seed,
            predictions.stage,
            predictions.benchmark,
            predictions.checkpoint_step,
            count(*) as n_choice_rows,
            min(predictions.scored_at) as first_scored_at,
            max(predictions.scored_at) as last_scored_at
        from predictions
        group by all
        -- imported runs without per-choice log-probs (xstage import table); a leaf never has both
        union all
        select
            item_results.scale,
            item_results.mixture,
            item_results.seed,
            item_results.stage,
            item_results.benchmark,
            item_results.checkpoint_step,
            count(*) as n_choice_rows,
            min(item_results.imported_at) as first_scored_at,
            max(item_results.imported_at) as last_scored_at
        from item_results
        group by all
    ),

    latest as (
        select
            partitions.scale,
            partitions.mixture,
            partitions.seed,
            partitions.stage,
            max(partitions.checkpoint_step) as checkpoint_step
        from partitions
        group by all
    ),

    item_versions as (
        select
            items.benchmark,
            bit_xor(items.item_fingerprint) as items_fingerprint
        from items
        group by items.benchmark
    ),

    run_rows as (
        select
            runs.scale,
            runs.mixture,
            runs.seed,
            runs.stage,
            runs.checkpoint_step,
            arg_max(runs.run_id, runs.created_at) as run_id,
            arg_max(runs.n_params_nominal, runs.created_at) as n_params_nominal,
            arg_max(runs.n_params, runs.created_at) as n_params,
            arg_max(runs.origin, runs.created_at) as origin,
            arg_max(runs.n_tokens_seen, runs.created_at) as n_tokens_seen
        from runs
        group by all
    ),

    resolved as (
        select
            coalesce(
                run_rows.run_id,
                partitions.scale || '__' || partitions.mixture || '__seed' || partitions.seed
            ) as run_id,
            partitions.scale,
            run_rows.n_params_nominal,
            run_rows.n_params,
            partitions.mixture,
            partitions.seed,
            partitions.stage,
            coalesce(run_rows.origin, 'unknown') as origin,
            partitions.checkpoint_step,
            run_rows.n_tokens_seen,
            partitions.benchmark,
            benchmarks.category,
            partitions.n_choice_rows,
            partitions.first_scored_at,
            partitions.last_scored_at,
            item_versions.items_fingerprint
        from partitions
        inner join latest
            on
                partitions.scale = latest.scale
                and partitions.mixture = latest.mixture
                and partitions.seed = latest.seed
                and partitions.stage = latest.stage
                and partitions.checkpoint_step = latest.checkpoint_step
        left join item_versions on partitions.benchmark = item_versions.benchmark
        left join benchmarks on partitions.benchmark = benchmarks.benchmark
        left join run_rows
            on
                partitions.scale = run_rows.scale
                and partitions.mixture = run_rows.mixture
                and partitions.seed = run_rows.seed
                and partitions.stage = run_rows.stage
                and partitions.checkpoint_step = run_rows.checkpoint_step
    )

    select
        resolved.* exclude (first_scored_at, last_scored_at, items_fingerprint),
        hash(
            resolved.scale, resolved.mixture, resolved.seed, resolved.stage,
            resolved.benchmark, resolved.checkpoint_step, resolved.n_choice_rows,
            resolved.first_scored_at, resolved.last_scored_at, resolved.items_fingerprint,
            resolved.run_id, resolved.n_params_nominal, resolved.n_params, resolved.origin,
            resolved.n_tokens_seen, resolved.category
        ) as leaf_fingerprint
    from resolved
{%- endmacro %}

{% macro delete_changed_leaves() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where leaf_fingerprint not in (
        select current_leaves.leaf_fingerprint from ({{ prediction_leaves_sql() }}) as current_leaves
    )
    {%- endif -%}
{%- endmacro %}
