{#- Postgres comments for the columns a model generates from data, which no YAML entry can name (e.g.
    ml_customer_features' `category_share_<category>`, one per product category): a post-hook that
    comments every column of `relation` whose name starts with `prefix`, with `description` where `{}`
    stands for the rest of the name. persist_docs comments the YAML columns; this covers the others, so
    every mart column carries a comment (tests/dbt/test_docs_contract.py). -#}
{% macro comment_generated_columns(relation, prefix, description) %}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.name.startswith(prefix) -%}
            {%- set text = description | replace('{}', column.name[prefix | length:]) %}
comment on column {{ relation }}.{{ adapter.quote(column.name) }} is '{{ text | replace("'", "''") }}';
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
