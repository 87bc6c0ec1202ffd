{#- Salted sha256 of an email or phone, normalised first so the same person hashes the same way
    across sources. The salt comes from the `pii_hash_salt` var (env PII_HASH_SALT); clear values never
    leave staging. -#}
{% macro hash_pii(column, kind='email') -%}
    {%- if kind == 'phone' -%}
        {%- set normalised = "nullif(regexp_replace(" ~ column ~ ", '[^0-9+]', '', 'g'), '')" -%}
    {%- else -%}
        {%- set normalised = "nullif(lower(trim(" ~ column ~ ")), '')" -%}
    {%- endif -%}
    case
        when {{ normalised }} is not null
            then encode(sha256(convert_to('{{ var("pii_hash_salt") }}' || {{ normalised }}, 'UTF8')), 'hex')
    end
{%- endmacro %}
