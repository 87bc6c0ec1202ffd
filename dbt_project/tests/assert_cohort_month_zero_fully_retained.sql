-- Every customer of a cohort ordered in the cohort's first month, so month 0 retention is 1 (100 %).
{{ config(meta={'dagster': {'ref': {'name': 'fct_cohort_retention'}}}) }}

select *
from {{ ref('fct_cohort_retention') }}
where
    months_since_first_order = 0
    and (active_customers != cohort_customers or retention_rate != 1)
