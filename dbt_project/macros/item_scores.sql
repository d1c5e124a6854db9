{#- Per-item softmax over the choices for every length normalization, as two group-by passes
    (per-item maxima, then sums of exp(score - max) joined back), never as window functions over
    the item partition: on the paper-size lake the window form is several times slower (DESIGN §6).

    `choices` has leaf_key, item_key, gold_index, choice_index, logprob, n_tokens, n_chars,
    n_bytes, logprob_uncond. Produces CTEs `normalized`, `item_maxima`, `item_sums`, and
    `item_scores` (long: one row per leaf_key x item_key x length_normalization). With Z the sum of
    exp(s_k - max): confidence = 1 / Z, prob_gold = exp(s_gold - max) / Z,
    entropy = ln Z - sum(exp(s_k - max) (s_k - max)) / Z, brier = sum p_k^2 - 2 prob_gold + 1,
    nll = ln Z + (max - s_gold). A normalization exists for an item only when every choice has a
    score under it: 'pmi' (logprob - logprob_uncond) needs logprob_uncond, per_token needs
    n_tokens > 0 (imported harness logs carry no token counts: n_tokens = 0). -#}

{% macro item_score_ctes(choices) -%}
    {%- set norms = ['none', 'per_token', 'per_char', 'per_byte', 'pmi'] -%}
    normalized as (
        select
            {{ choices }}.leaf_key,
            {{ choices }}.item_key,
            {{ choices }}.gold_index,
            {{ choices }}.choice_index,
            {{ choices }}.choice_index = {{ choices }}.gold_index as is_gold,
            {{ choices }}.logprob as s_none,
            {{ choices }}.logprob / nullif({{ choices }}.n_tokens, 0) as s_per_token,
            {{ choices }}.logprob / nullif({{ choices }}.n_chars, 0) as s_per_char,
            {{ choices }}.logprob / nullif({{ choices }}.n_bytes, 0) as s_per_byte,
            {{ choices }}.logprob - {{ choices }}.logprob_uncond as s_pmi
        from {{ choices }}
    ),

    item_maxima as (
        select
            normalized.leaf_key,
            normalized.item_key,
            any_value(normalized.gold_index) as gold_index,
            count(*) as n_choices,
            {%- for norm in norms %}
            count(normalized.s_{{ norm }}) as n_scored_{{ norm }},
            max(normalized.s_{{ norm }}) as max_{{ norm }},
            max(normalized.s_{{ norm }}) filter (where normalized.is_gold) as gold_{{ norm }},
            max(normalized.s_{{ norm }}) filter (where not normalized.is_gold) as other_{{ norm }}{{ "," if not loop.last }}
            {%- endfor %}
        from normalized
        group by normalized.leaf_key, normalized.item_key
    ),

    item_sums as (
        select
            normalized.leaf_key,
            normalized.item_key,
            {%- for norm in norms %}
            sum(exp(normalized.s_{{ norm }} - item_maxima.max_{{ norm }})) as z_{{ norm }},
            sum(
                exp(normalized.s_{{ norm }} - item_maxima.max_{{ norm }})
                * (normalized.s_{{ norm }} - item_maxima.max_{{ norm }})
            ) as e_{{ norm }},
            sum(exp(2 * (normalized.s_{{ norm }} - item_maxima.max_{{ norm }}))) as q_{{ norm }},
            min(normalized.choice_index) filter (
                where normalized.s_{{ norm }} = item_maxima.max_{{ norm }}
            ) as predicted_{{ norm }},
            count(*) filter (
                where normalized.s_{{ norm }} = item_maxima.max_{{ norm }}
            ) as tied_{{ norm }}{{ "," if not loop.last }}
            {%- endfor %}
        from normalized
        inner join item_maxima
            on normalized.leaf_key = item_maxima.leaf_key
            and normalized.item_key = item_maxima.item_key
        group by normalized.leaf_key, normalized.item_key
    ),

    item_wide as (
        select
            item_maxima.*,
            item_sums.* exclude (leaf_key, item_key)
        from item_maxima
        inner join item_sums
            on item_maxima.leaf_key = item_sums.leaf_key
            and item_maxima.item_key = item_sums.item_key
    ),

    item_long as (
        {%- for norm in norms %}
        select
            item_wide.leaf_key,
            item_wide.item_key,
            '{{ norm }}' as length_normalization,
            item_wide.n_choices,
            item_wide.gold_index,
            item_wide.predicted_{{ norm }} as predicted_index,
            item_wide.tied_{{ norm }} as n_tied_at_max,
            item_wide.max_{{ norm }} as max_score,
            item_wide.gold_{{ norm }} as gold_score,
            item_wide.other_{{ norm }} as other_score,
            item_wide.z_{{ norm }} as z,
            item_wide.e_{{ norm }} as e,
            item_wide.q_{{ norm }} as q
        from item_wide
        where item_wide.n_scored_{{ norm }} = item_wide.n_choices
        {{ "union all" if not loop.last }}
        {%- endfor %}
    ),

    item_scores as (
        select
            item_long.leaf_key,
            item_long.item_key,
            item_long.length_normalization,
            cast(item_long.n_choices as smallint) as n_choices,
            cast(item_long.predicted_index as smallint) as predicted_index,
            item_long.predicted_index = item_long.gold_index as is_correct,
            cast(item_long.n_tied_at_max as smallint) as n_tied_at_max,
            1.0 / item_long.z as confidence,
            exp(item_long.gold_score - item_long.max_score) / item_long.z as prob_gold,
            (exp(item_long.gold_score - item_long.max_score)
                - exp(item_long.other_score - item_long.max_score)) / item_long.z as margin,
            ln(item_long.z) - item_long.e / item_long.z as entropy_nats,
            item_long.q / (item_long.z * item_long.z)
            - 2 * exp(item_long.gold_score - item_long.max_score) / item_long.z + 1 as brier,
            ln(item_long.z) + (item_long.max_score - item_long.gold_score) as nll
        from item_long
    )
{%- endmacro %}
