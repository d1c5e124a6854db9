{#- Every non-NULL value lies in [min_value, max_value] (probabilities, correlations, fractions);
    `tolerance` absorbs floating-point rounding at the ends. -#}
{% test between(model, column_name, min_value, max_value, tolerance=1e-12) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < {{ min_value }} - {{ tolerance }}
        or {{ column_name }} > {{ max_value }} + {{ tolerance }}
{% endtest %}
