-- grain: one row per scale x mixture x seed x benchmark x length_normalization
-- The 2 x 2 table of PT -> SFT correctness over items scored at both stages, and the Pearson r
-- over items of prob_gold at PT with prob_gold at SFT. BH family: length_normalization.
with

item_predictions as (
    select * from {{ ref('fct_item_predictions') }}
),

paired as (
    select
        pretrain.scale,
        pretrain.mixture,
        pretrain.unit,
        pretrain.seed,
        pretrain.benchmark,
        pretrain.category,
        pretrain.length_normalization,
        pretrain.is_correct as is_correct_pretrain,
        sft.is_correct as is_correct_sft,
        pretrain.prob_gold as prob_gold_pretrain,
        sft.prob_gold as prob_gold_sft
    from item_predictions as pretrain
    inner join item_predictions as sft
        on pretrain.scale = sft.scale
        and pretrain.mixture = sft.mixture
        and pretrain.seed = sft.seed
        and pretrain.benchmark = sft.benchmark
        and pretrain.item_id = sft.item_id
        and pretrain.length_normalization = sft.length_normalization
    where pretrain.stage = 'pretrain' and sft.stage = 'sft'
),

aggregated as (
    select
        paired.scale,
        paired.mixture,
        paired.unit,
        paired.seed,
        paired.benchmark,
        paired.category,
        paired.length_normalization,
        count(*) as n_items,
        count(*) filter (where paired.is_correct_pretrain and paired.is_correct_sft)
            as n_correct_to_correct,
        count(*) filter (where paired.is_correct_pretrain and not paired.is_correct_sft)
            as n_correct_to_wrong,
        count(*) filter (where not paired.is_correct_pretrain and paired.is_correct_sft)
            as n_wrong_to_correct,
        count(*) filter (where not paired.is_correct_pretrain and not paired.is_correct_sft)
            as n_wrong_to_wrong,
        {{ correlation_aggregates('paired.prob_gold_pretrain', 'paired.prob_gold_sft') }}
    from paired
    group by all
),

inferred as (
    select
        aggregated.* rename (n as n_prob_gold, r as r_prob_gold),
        {{ correlation_inference('aggregated.r', 'aggregated.n') }}
    from aggregated
),

{{ bh_q_value_ctes('with_q', 'inferred', ['length_normalization']) }},

final as (
    select * from with_q
)

select * from final
