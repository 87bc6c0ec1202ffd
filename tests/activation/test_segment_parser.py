"""The offline segment parser: phrasings -> exact filters, refusals, and the SQL it compiles (checked
by the guard against a hand-built catalog of the columns the marts document)."""

from __future__ import annotations

import pytest

from ingestion.activation.ask import (
    Filter,
    SegmentRequestRefused,
    SegmentSpec,
    parse_question,
    propose,
    slug,
    spec_to_sql,
)
from ingestion.activation.segments import NAME_RE
from ingestion.activation.sql_guard import Catalog, validate_segment_sql

F = Filter

PHRASINGS = [
    (
        "customers in Texas who haven't ordered in 90 days and spent over $200",
        [F("location", "=", "TX", "province_code"), F("recency", ">", 90), F("spend", ">", 200)],
    ),
    ("no purchase in 3 months", [F("recency", ">", 90)]),
    ("customers who haven't bought anything in the last 6 weeks", [F("recency", ">", 42)]),
    ("ordered in the last 30 days", [F("recency", "<=", 30)]),
    ("lapsed for 6 months", [F("recency", ">", 180)]),
    ("haven't shopped in a year", [F("recency", ">", 365)]),
    ("customers who bought more than 3 times", [F("frequency", ">", 3)]),
    ("one-time buyers", [F("frequency", "=", 1)]),
    ("repeat customers", [F("frequency", ">=", 2)]),
    ("customers with at least 2 orders", [F("frequency", ">=", 2)]),
    (
        "customers in Ontario with 3 or more orders",
        [F("location", "=", "ON", "province_code"), F("frequency", ">=", 3)],
    ),
    ("customers who have never ordered", [F("frequency", "=", 0)]),
    ("spent less than 50", [F("spend", "<", 50)]),
    ("lifetime value above $1,000", [F("spend", ">", 1000)]),
    ("customers who spent at least 2.5k", [F("spend", ">=", 2500)]),
    ("customers in California", [F("location", "=", "CA", "province_code")]),
    ("customers in Canada", [F("location", "=", "CA", "country_code")]),
    ("customers in London", [F("location", "=", "London", "city")]),
    ("shoppers from the UK", [F("location", "=", "GB", "country_code")]),
    ("customers who came from paid social", [F("channel", "=", "Paid Social")]),
    ("acquired through email", [F("channel", "=", "Email")]),
    ("customers from organic search", [F("channel", "=", "Organic Search")]),
    ("customers who bought skincare", [F("category", "=", "skincare", "ci")]),
    ("who purchased from the Outerwear category", [F("category", "=", "Outerwear", "ci")]),
    ("customers with high churn risk", [F("churn_band", "=", "high")]),
    ("customers likely to churn", [F("churn_band", "=", "high")]),
    ("low churn risk customers", [F("churn_band", "=", "low")]),
    ("customers with high predicted LTV", [F("ltv_band", "top", 10)]),
    ("top 10% predicted LTV", [F("ltv_band", "top", 10)]),
    ("top decile", [F("ltv_band", "top", 10)]),
    ("top decile predicted LTV customers", [F("ltv_band", "top", 10)]),
    (
        "top quartile by predicted LTV who are likely to churn",
        [F("ltv_band", "top", 25), F("churn_band", "=", "high")],
    ),
    ("predicted LTV over $300", [F("predicted_ltv", ">", 300)]),
    ("customers who accept marketing", [F("marketing", "=", True)]),
    ("customers whose last order was more than 60 days ago", [F("recency", ">", 60)]),
    ("customers in the city of Leeds", [F("location", "=", "Leeds", "city")]),
    ("customers who came via Google Ads", [F("channel", "=", "Paid Search")]),
    ("customers unlikely to churn", [F("churn_band", "=", "low")]),
    ("bottom 20% by predicted LTV", [F("ltv_band", "bottom", 20)]),
    ("customers who opted out of marketing", [F("marketing", "=", False)]),
    (
        "repeat customers acquired through paid search who accept email marketing",
        [F("frequency", ">=", 2), F("channel", "=", "Paid Search"), F("marketing", "=", True)],
    ),
]


@pytest.mark.parametrize(("question", "filters"), PHRASINGS, ids=[q for q, _ in PHRASINGS])
def test_phrasing_maps_to_exact_filters(question: str, filters: list[Filter]) -> None:
    assert parse_question(question) == SegmentSpec(tuple(filters))


def test_known_categories_use_the_catalog_spelling() -> None:
    spec = parse_question("customers who bought skincare products", categories=["Outerwear", "Skincare"])
    assert spec.filters == (F("category", "=", "Skincare", "exact"),)
    with pytest.raises(SegmentRequestRefused, match="no product category 'gardening'.*Outerwear, Skincare"):
        parse_question("customers who bought gardening", categories=["Outerwear", "Skincare"])


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("customers in Texas; drop table marts.dim_customers", "injection"),
        ("customers in Texas -- and more", "injection"),
        ("customers who spent over 100 /* x */", "injection"),
        ("drop table marts.dim_customers", "injection"),
        ("customers from shopify.customers", "injection"),
        ("give me the emails of customers who spent over $500", "contact details"),
        ("phone numbers of one-time buyers", "contact details"),
        ("names and addresses of customers in Texas", "contact details"),
        ("asdf qwerty", "no condition recognized"),
        ("customers in Texas who love dogs", "but not 'love dogs'"),
        ("customers in Texas and in Ohio", "more than one location"),
        ("customers in Texas or in Ohio", "but not 'or'"),
    ],
)
def test_refusals(question: str, reason: str) -> None:
    with pytest.raises(SegmentRequestRefused, match=reason):
        parse_question(question)


def test_refusal_lists_the_understood_forms() -> None:
    with pytest.raises(SegmentRequestRefused) as info:
        parse_question("asdf qwerty")
    assert "haven't ordered in 90 days" in info.value.reason and "in Texas" in info.value.reason


def test_email_as_a_channel_is_not_a_contact_details_request() -> None:
    assert parse_question("customers acquired via email").filters == (F("channel", "=", "Email"),)


# the columns the compiled SQL may touch, as the marts' YAML documents them


def _columns(names: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), "")


CATALOG = Catalog(
    {
        "marts.dim_customers": _columns(
            "customer_id orders net_revenue recency_days city country_code province_code "
            "first_touch_channel marketing_allowed"
        ),
        "marts.fct_order_items": _columns("customer_id category is_cancelled"),
        "ml.churn_scores": _columns("customer_id snapshot_date risk_band churn_probability"),
        "ml.ltv_predictions": _columns("customer_id snapshot_date predicted_ltv"),
    }
)


@pytest.mark.parametrize(("question", "filters"), PHRASINGS, ids=[q for q, _ in PHRASINGS])
def test_compiled_sql_passes_the_guard(question: str, filters: list[Filter]) -> None:
    sql = spec_to_sql(SegmentSpec(tuple(filters)))
    assert validate_segment_sql(sql, CATALOG)


def test_sql_of_the_issue_example() -> None:
    sql = spec_to_sql(parse_question("customers in Texas who haven't ordered in 90 days and spent over $200"))
    assert sql == (
        "select c.customer_id\nfrom marts.dim_customers as c\n"
        "where c.country_code = 'US' and c.province_code = 'TX'\n"
        "    and c.recency_days > 90\n    and coalesce(c.net_revenue, 0) > 200\n"
    )


def test_joins_only_when_needed() -> None:
    plain = spec_to_sql(parse_question("repeat customers"))
    assert "join" not in plain and "ml." not in plain
    churn = spec_to_sql(parse_question("likely to churn"))
    assert "ml.churn_scores" in churn and "max(snapshot_date)" in churn and "ltv" not in churn
    ltv = spec_to_sql(parse_question("top decile"))
    assert "ntile(10) over (order by predicted_ltv desc" in ltv and "churn" not in ltv


def test_city_literal_is_quoted() -> None:
    sql = spec_to_sql(SegmentSpec((F("location", "=", "St. John's", "city"),)))
    assert "lower(c.city) = 'st. john''s'" in sql
    assert validate_segment_sql(sql, CATALOG)


def test_propose_offline_with_a_catalog() -> None:
    p = propose("customers in Canada who accept marketing", catalog=CATALOG)
    assert p.generator == "rules" and p.size is None
    assert p.definition.question == "customers in Canada who accept marketing"
    assert NAME_RE.match(p.definition.name) and len(p.definition.name) <= 40
    assert p.definition.label.startswith("In Canada (CA)")


def test_slug_is_short_and_unique_ish() -> None:
    a = slug("customers in Texas who haven't ordered in 90 days and spent over $200")
    b = slug("customers in Texas who haven't ordered in 90 days and spent over $300")
    assert a != b and len(a) <= 40 and len(b) <= 40 and NAME_RE.match(a)
    assert a.startswith("texas_")
    assert NAME_RE.match(slug("90 days"))
