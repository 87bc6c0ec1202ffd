{#- GA4-style default channel grouping. The rules live in the `channel_rules` seed (first match by
    priority wins; an empty pattern means "any value"), so a user extends the grouping by adding rows,
    not by editing SQL. Inputs are compared lower-cased, with null as the empty string; the click-id
    field is a comma list of the click ids present (`gclid`, `fbclid`). Anything unmatched is
    `Unassigned`, as in GA4. -#}
{% macro channel_group(source, medium, campaign, referrer_host, gclid, fbclid) -%}
    coalesce((
        select rules.channel
        from {{ ref('channel_rules') }} as rules
        where
            (rules.source_pattern is null or coalesce(lower({{ source }}), '') ~* rules.source_pattern)
            and (rules.medium_pattern is null or coalesce(lower({{ medium }}), '') ~* rules.medium_pattern)
            and (rules.campaign_pattern is null or coalesce(lower({{ campaign }}), '') ~* rules.campaign_pattern)
            and (rules.referrer_pattern is null or coalesce(lower({{ referrer_host }}), '') ~* rules.referrer_pattern)
            and (
                rules.click_id_pattern is null
                or concat_ws(
                    ',',
                    case when nullif({{ gclid }}, '') is not null then 'gclid' end,
                    case when nullif({{ fbclid }}, '') is not null then 'fbclid' end
                ) ~* rules.click_id_pattern
            )
        order by rules.priority
        limit 1
    ), 'Unassigned')
{%- endmacro %}

{#- The channel names the grouping can produce (for accepted_values tests and dashboards). -#}
{% macro channel_names() -%}
    {{ return(['Paid Social', 'Paid Search', 'Organic Search', 'Organic Social', 'Email', 'Referral',
               'Direct', 'Display', 'Affiliates', 'Unassigned']) }}
{%- endmacro %}
