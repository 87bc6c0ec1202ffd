{#- URL helpers for referrers and landing pages (no dbt_utils: the hub is unreachable). -#}

{#- Lower-cased host without a leading `www.`; null for empty or unparsable URLs. -#}
{% macro url_host(column) -%}
    nullif(regexp_replace(lower(substring({{ column }} from '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)')), '^www\.', ''), '')
{%- endmacro %}

{#- The value of one query-string parameter of a URL (not url-decoded). -#}
{% macro url_parameter(column, name) -%}
    nullif(substring({{ column }} from '[?&]{{ name }}=([^&#]*)'), '')
{%- endmacro %}
