{#- Shopify GraphQL ids are gids (`gid://shopify/Order/123`); the warehouse keys are their bigint tails. -#}
{% macro shopify_id(column) -%}
    cast(substring({{ column }} from '(\d+)(?:\?.*)?$') as bigint)
{%- endmacro %}
