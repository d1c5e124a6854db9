{#- A row-level invariant (e.g. ci_low <= r <= ci_high); rows where it is false fail. -#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}
