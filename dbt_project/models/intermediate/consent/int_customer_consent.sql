{#- The tracker consent of each customer: the latest choice among the browsers linked to them
    (int_identities_resolved). Null when none of their browsers ever sent a choice (older trackers,
    order-history customers): unknown, not consent. dim_customers combines it with Shopify's email
    marketing consent into `marketing_allowed`. -#}
with

visitors as (
    select * from {{ ref('int_visitor_consent') }}
),

identities as (
    select * from {{ ref('int_identities_resolved') }}
),

final as (
    select
        identities.customer_id,
        (array_agg(visitors.analytics_consent order by visitors.consent_seen_at desc, visitors.consent_event_id desc))[1]
            as tracker_analytics_consent,
        (array_agg(visitors.marketing_consent order by visitors.consent_seen_at desc, visitors.consent_event_id desc))[1]
            as tracker_marketing_consent,
        max(visitors.consent_seen_at) as tracker_consent_seen_at
    from identities
    inner join visitors on identities.anonymous_id = visitors.anonymous_id
    group by identities.customer_id
)

select * from final
