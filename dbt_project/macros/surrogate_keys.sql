{#- Keys for ids that come from outside Shopify (an order-history export, the tracker's userId), so any
    id string joins the marts' bigint keys without a silent NULL and without merging distinct ids:

    - `external_key(text)`: a negative bigint in [-2^60, -1] from md5 of the exact text. Shopify's ids are
      positive, so the two never collide; two different texts share a key with probability ~n^2 / 2^61
      (about 4e-7 for a million ids).
    - `customer_key(text)`: one rule for every source that names a customer, so the same id from the
      export and from the tracker is the same customer: a Shopify gid (`gid://shopify/Customer/123`) is
      its number; a canonical decimal (1-18 digits, no leading zero: how Shopify prints customer ids) is
      that number; anything else (`C-0001`, an email, `00001`, a 19-digit number, `12346.0`) is its
      `external_key`. So `1` and `00001` stay two customers. Ids are trimmed; empty = null. -#}
{% macro external_key(text_expr) -%}
    (-1 - cast(cast('x' || substr(md5({{ text_expr }}), 1, 15) as bit(60)) as bigint))
{%- endmacro %}

{% macro customer_key(column) -%}
    {%- set id = "nullif(trim(cast(" ~ column ~ " as text)), '')" -%}
    case
        when {{ id }} ~ '^gid://shopify/Customer/\d{1,18}$' then cast(substring({{ id }} from '(\d+)$') as bigint)
        when {{ id }} ~ '^[1-9]\d{0,17}$' then cast({{ id }} as bigint)
        when {{ id }} is not null then {{ external_key(id) }}
    end
{%- endmacro %}
