{#- URL helpers for referrers and landing pages (no dbt_utils: the hub is unreachable). -#}

{#- Lower-cased host without port or a leading `www.`; null for empty or scheme-less values. Plain
    string splitting: a regex here costs most of the events staging scan. -#}
{% macro url_host(column) -%}
    nullif(
        regexp_replace(
            lower(split_part(split_part(split_part(split_part(split_part({{ column }}, '://', 2), '/', 1), '?', 1), '#', 1), ':', 1)),
            '^www\.', ''
        ),
        ''
    )
{%- endmacro %}

{#- The value of one query-string parameter of a URL (not url-decoded). -#}
{% macro url_parameter(column, name) -%}
    nullif(substring({{ column }} from '[?&]{{ name }}=([^&#]*)'), '')
{%- endmacro %}
