{#- The daily metrics of every Google Ads level (campaign, ad group, ad), typed: cost from micros of
    the account currency to currency units, Google's own (fractional) conversions and their value. -#}
{% macro google_ads_metrics() -%}
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        -- Google reports cost in micros of the account currency
        cast(cost_micros as numeric) / 1000000 as spend,
        cast(conversions as double precision) as platform_conversions,
        cast(conversions_value as numeric) as platform_conversion_value
{%- endmacro %}
