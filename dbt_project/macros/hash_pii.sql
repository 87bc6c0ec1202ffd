{#- Salted sha256 of an email or phone, normalised first so the same person hashes the same way
    across sources. The salt is not a dbt var: a var would be inlined into every compiled model,
    every target/ artifact and every view definition. It lives in the warehouse (`private.pii_key`,
    readable by the transformer only), read once per query by `(select private.pii_hash_key())`, so compiled
    SQL only ever names it (ingestion/warehouse/pii.py writes the key from PII_HASH_SALT and says why
    the call has this shape). Same value as ever: sha256 of salt || normalised, hex; null stays null. -#}
{% macro hash_pii(column, kind='email') -%}
    {%- if kind == 'phone' -%}
        {%- set normalised = "nullif(regexp_replace(" ~ column ~ ", '[^0-9+]', '', 'g'), '')" -%}
    {%- else -%}
        {%- set normalised = "nullif(lower(trim(" ~ column ~ ")), '')" -%}
    {%- endif -%}
    private.hash_pii({{ normalised }}, (select private.pii_hash_key()))
{%- endmacro %}
