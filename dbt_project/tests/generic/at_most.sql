{#- Row-wise inequality: `column_name` <= `other_column` wherever both are set (funnel steps never
    increase, shares never exceed 1, ...). -#}
{% test at_most(model, column_name, other_column) %}
    select *
    from {{ model }}
    where {{ column_name }} > {{ other_column }}
{% endtest %}
