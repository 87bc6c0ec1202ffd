{#- A value turned into a safe column-name fragment (`Home & Garden` -> `home_garden`). -#}
{% macro column_slug(value) -%}
    {{ return(modules.re.sub('[^a-z0-9]+', '_', (value | string | lower)).strip('_') or 'blank') }}
{%- endmacro %}
