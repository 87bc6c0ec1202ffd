{#- Calendar dates are UTC dates everywhere, whatever the session time zone of the connection. -#}
{% macro utc_date(column) -%}
    cast(({{ column }} at time zone 'UTC') as date)
{%- endmacro %}

{#- The instant a UTC calendar date starts, as timestamptz. -#}
{% macro utc_midnight(column) -%}
    (cast({{ column }} as timestamp) at time zone 'UTC')
{%- endmacro %}
