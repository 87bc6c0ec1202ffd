"""A `SegmentSpec` -> the segment's SQL (`spec_to_sql`), plus the label and description the rule-based
path gives a segment. The SQL still passes `sql_guard.validate_segment_sql` before it is used."""

from __future__ import annotations

from ingestion.activation.ask_parser import Filter, SegmentSpec
from ingestion.activation.ask_places import PROVINCE_COUNTRY


def _lit(value: str) -> str:
    """A SQL string literal (standard_conforming_strings: only quotes need doubling)."""
    return "'" + str(value).replace("'", "''") + "'"


def _num(value: int | float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


_LATEST_CHURN = """join ml.churn_scores as churn
    on churn.customer_id = c.customer_id
    and churn.snapshot_date = (select max(snapshot_date) from ml.churn_scores)"""


def _ltv_join(bands: list[Filter]) -> str:
    columns = ["customer_id", "predicted_ltv"]
    for i, f in enumerate(bands):
        order = "desc" if f.op == "top" else "asc"
        if 100 % f.value == 0:
            columns.append(
                f"ntile({100 // f.value}) over (order by predicted_ltv {order} nulls last) as ltv_band_{i}"
            )
        else:
            columns.append(f"cume_dist() over (order by predicted_ltv {order} nulls last) as ltv_band_{i}")
    return (
        "join (\n    select " + ", ".join(columns) + "\n    from ml.ltv_predictions\n"
        "    where snapshot_date = (select max(snapshot_date) from ml.ltv_predictions)\n"
        ") as ltv on ltv.customer_id = c.customer_id"
    )


def _condition(f: Filter, ltv_index: dict[int, int]) -> str:
    if f.kind == "recency":
        return f"c.recency_days {f.op} {int(f.value)}"
    if f.kind == "frequency":
        return f"coalesce(c.orders, 0) {f.op} {int(f.value)}"
    if f.kind == "spend":
        return f"coalesce(c.net_revenue, 0) {f.op} {_num(f.value)}"
    if f.kind == "predicted_ltv":
        return f"ltv.predicted_ltv {f.op} {_num(f.value)}"
    if f.kind == "location":
        if f.field == "city":
            return f"lower(c.city) = {_lit(str(f.value).lower())}"
        if f.field == "province_code":
            country = PROVINCE_COUNTRY.get(f.value)
            prefix = f"c.country_code = {_lit(country)} and " if country else ""
            return f"{prefix}c.province_code = {_lit(f.value)}"
        return f"c.country_code = {_lit(f.value)}"
    if f.kind == "channel":
        return f"c.first_touch_channel = {_lit(f.value)}"
    if f.kind == "category":
        match = (
            f"items.category = {_lit(f.value)}"
            if f.field == "exact"
            else f"lower(items.category) = {_lit(str(f.value).lower())}"
        )
        return (
            "exists (\n        select 1 from marts.fct_order_items as items\n"
            f"        where items.customer_id = c.customer_id and not items.is_cancelled and {match}\n    )"
        )
    if f.kind == "churn_band":
        return f"churn.risk_band = {_lit(f.value)}"
    if f.kind == "ltv_band":
        column = f"ltv.ltv_band_{ltv_index[id(f)]}"
        return f"{column} = 1" if 100 % f.value == 0 else f"{column} <= {f.value / 100}"
    if f.kind == "marketing":
        return "c.marketing_allowed" if f.value else "not c.marketing_allowed"
    raise ValueError(f"unknown filter kind {f.kind!r}")


def spec_to_sql(spec: SegmentSpec) -> str:
    """One SELECT over marts.dim_customers (alias c), joining the latest churn / LTV scores only when a
    filter needs them. Recency uses dim_customers.recency_days (days to the day after the warehouse's
    latest order), so a segment does not drift with the wall clock between loads."""
    joins: list[str] = []
    if any(f.kind == "churn_band" for f in spec.filters):
        joins.append(_LATEST_CHURN)
    bands = [f for f in spec.filters if f.kind == "ltv_band"]
    if bands or any(f.kind == "predicted_ltv" for f in spec.filters):
        joins.append(_ltv_join(bands))
    ltv_index = {id(f): i for i, f in enumerate(bands)}
    conditions = [_condition(f, ltv_index) for f in spec.filters]
    sql = "select c.customer_id\nfrom marts.dim_customers as c"
    for join in joins:
        sql += "\n" + join
    if conditions:
        sql += "\nwhere " + "\n    and ".join(conditions)
    return sql + "\n"


def label_and_description(spec: SegmentSpec) -> tuple[str, str]:
    phrases = spec.phrases()
    label = ", ".join(phrases)
    label = label[0].upper() + label[1:]
    if len(label) > 80:
        label = label[:77].rstrip(" ,") + "..."
    description = "Customers: " + "; ".join(phrases) + ". Built offline by the rule-based parser."
    return label, description
