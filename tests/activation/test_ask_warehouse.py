"""`journey segments ask` against the built tiny warehouse, as the reporter: sizes equal hand-written
counts, the LLM path talks to a local OpenAI-compatible server (real HTTP through the SDK) and sends
the catalog but no customer data, and the CLI writes a YAML that `load_segments` reads back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.routing import Route

from ingestion.activation.ask import SegmentRequestRefused, propose
from ingestion.activation.ask_cli import ask_command
from ingestion.activation.segments import load_segments
from ingestion.activation.sql_guard import catalog_from_warehouse, segment_size
from ingestion.sandbox.emulators.server import BackgroundServer
from ingestion.warehouse import WarehouseSettings
from ml.insights.llm import LLMSettings
from tests.insights.conftest import FakeOpenAI

# synthetic ML outputs with the columns ml/churn and ml/ltv write (created only when the ML tier has
# not left real ones in this database; dropped afterwards only if created here)
ML_SQL = {
    "churn_scores": """
        create table ml.churn_scores as
        select customer_id, (select max(order_date) from marts.fct_order_items) as snapshot_date, p as churn_probability,
               case when p >= 0.7 then 'high' when p >= 0.4 then 'medium' else 'low' end as risk_band,
               'test' as model_version, now() as scored_at
        from (select customer_id, (abs(hashtext(customer_id::text)) % 1000) / 1000.0 as p
              from marts.dim_customers) as s
    """,
    "ltv_predictions": """
        create table ml.ltv_predictions as
        select customer_id, (select max(order_date) from marts.fct_order_items) as snapshot_date,
               (select max(order_date) from marts.fct_order_items) as reference_date, 365 as horizon_days,
               (abs(hashtext(customer_id::text)) % 50000) / 100.0 as predicted_ltv, 'test' as model_version,
               now() as scored_at
        from marts.dim_customers
    """,
}


@pytest.fixture(scope="module")
def ask_wh(built_tiny, dbt_warehouse: WarehouseSettings) -> Iterator[WarehouseSettings]:
    created = []
    with psycopg.connect(dbt_warehouse.role_url("transformer"), autocommit=True) as conn:
        for table, sql in ML_SQL.items():
            if conn.execute("select to_regclass(%s)", (f"ml.{table}",)).fetchone()[0] is None:
                conn.execute(sql)
                created.append(table)
    yield dbt_warehouse
    with psycopg.connect(dbt_warehouse.role_url("transformer"), autocommit=True) as conn:
        for table in created:
            conn.execute(f"drop table if exists ml.{table}")


@pytest.fixture
def reporter(ask_wh: WarehouseSettings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(ask_wh.role_url("reporter"), autocommit=True) as conn:
        yield conn


def count(conn: psycopg.Connection, sql: str) -> int:
    return conn.execute(sql).fetchone()[0]


def test_catalog_is_the_reporters_with_dbt_docs(reporter: psycopg.Connection) -> None:
    catalog = catalog_from_warehouse(reporter)
    assert {t.split(".")[0] for t in catalog.tables} <= {"marts", "ml"}
    assert "marts.dim_customers" in catalog.tables and "ml.churn_scores" in catalog.tables
    assert "first-touch channel" in catalog.columns("marts.dim_customers")["first_touch_channel"]
    assert "email" not in catalog.columns("marts.dim_customers")


def test_segment_size_is_read_only_with_a_timeout(reporter: psycopg.Connection) -> None:
    everyone = count(reporter, "select count(*) from marts.dim_customers")
    assert segment_size(reporter, "select customer_id from marts.dim_customers") == everyone
    # the count runs in a READ ONLY transaction with a statement timeout (the guard's function
    # allow-list would refuse current_setting in a segment: segment_size itself does not re-check)
    inside = (
        "select customer_id from marts.dim_customers where current_setting('transaction_read_only') = 'on' "
        "and current_setting('statement_timeout') = '30s'"
    )
    assert segment_size(reporter, inside) == everyone
    assert reporter.execute("show transaction_read_only").fetchone()[0] == "off"  # not leaked


def _top(conn: psycopg.Connection, sql: str) -> str:
    return conn.execute(sql).fetchone()[0]


def test_rules_sizes_equal_hand_written_counts(reporter: psycopg.Connection) -> None:
    country = _top(
        reporter,
        "select country_code from marts.dim_customers where country_code in ('US', 'CA', 'GB') "
        "group by 1 order by count(*) desc limit 1",
    )
    name = {"US": "the United States", "CA": "Canada", "GB": "the United Kingdom"}[country]
    cases = {
        f"customers in {name} who spent over $100": (
            f"select count(*) from marts.dim_customers where country_code = '{country}' and net_revenue > 100"
        ),
        "repeat customers who haven't ordered in 30 days": (
            "select count(*) from marts.dim_customers where orders >= 2 and recency_days > 30"
        ),
        "customers with high churn risk who accept marketing": (
            "select count(*) from marts.dim_customers c join ml.churn_scores s using (customer_id) "
            "where s.snapshot_date = (select max(snapshot_date) from ml.churn_scores) and s.risk_band = 'high' "
            "and c.marketing_allowed"
        ),
        "top decile predicted LTV": (
            "select count(*) from (select customer_id, ntile(10) over (order by predicted_ltv desc) as d "
            "from ml.ltv_predictions where snapshot_date = (select max(snapshot_date) from ml.ltv_predictions)) t "
            "join marts.dim_customers using (customer_id) where d = 1"
        ),
    }
    for question, expected_sql in cases.items():
        proposal = propose(question, conn=reporter)
        expected = count(reporter, expected_sql)
        assert proposal.generator == "rules" and proposal.size == expected, question
        assert expected > 0, f"{question}: the tiny shop should have members"


def test_category_matches_the_catalog_spelling(reporter: psycopg.Connection) -> None:
    category = _top(
        reporter,
        "select category from marts.fct_order_items where not is_cancelled and customer_id is not null "
        "group by 1 order by count(distinct customer_id) desc limit 1",
    )
    proposal = propose(f"customers who bought {category.lower()}", conn=reporter)
    assert proposal.spec.filters[0].value == category
    assert proposal.size == count(
        reporter,
        "select count(distinct customer_id) from marts.fct_order_items "
        f"where category = '{category}' and not is_cancelled and customer_id is not null",
    )


def test_province_when_the_mart_has_it(reporter: psycopg.Connection) -> None:
    if "province_code" not in catalog_from_warehouse(reporter).columns("marts.dim_customers"):
        pytest.skip("marts.dim_customers.province_code is not built in this warehouse yet")
    proposal = propose("customers in Texas", conn=reporter)
    assert proposal.size == count(
        reporter,
        "select count(*) from marts.dim_customers where country_code = 'US' and province_code = 'TX'",
    )


def test_city(reporter: psycopg.Connection) -> None:
    city = _top(
        reporter,
        "select city from marts.dim_customers where city ~ '^[A-Z][a-z]+$' group by 1 order by count(*) desc limit 1",
    )
    proposal = propose(f"customers in {city}", conn=reporter)
    assert proposal.size == count(reporter, f"select count(*) from marts.dim_customers where city = '{city}'")


# -- the LLM path -------------------------------------------------------------------------------------
@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    app = Starlette(routes=[Route("/v1/chat/completions", fake.completions, methods=["POST"])])
    with BackgroundServer(app) as server:
        fake.url = f"{server.url}/v1"
        yield fake


def _settings(fake: FakeOpenAI) -> LLMSettings:
    return LLMSettings(
        api_key="test-key", base_url=fake.url, model="fake-segments", timeout=10, max_retries=0
    )


def _draft(sql: str) -> str:
    return json.dumps(
        {
            "name": "consenting_customers",
            "label": "Consenting",
            "description": "Accept marketing.",
            "sql": sql,
        }
    )


def test_llm_valid_definition_is_accepted_and_no_customer_data_is_sent(
    reporter: psycopg.Connection, fake_llm: FakeOpenAI
) -> None:
    fake_llm.script = [(200, _draft("select customer_id from marts.dim_customers where marketing_allowed"))]
    proposal = propose("customers who accept marketing", conn=reporter, llm=_settings(fake_llm))
    assert proposal.generator == "llm" and proposal.model == "fake-segments"
    assert proposal.definition.name == "consenting_customers"
    assert proposal.size == count(
        reporter, "select count(*) from marts.dim_customers where marketing_allowed"
    )
    assert len(fake_llm.requests) == 1
    body = fake_llm.raw_bodies[0].decode()
    prompt = "\n".join(m["content"] for m in fake_llm.requests[0]["messages"])
    # the catalog with its dbt descriptions ...
    assert "marts.dim_customers" in prompt and "first-touch channel of the customer's first order" in prompt
    # ... and no customer data
    assert "@" not in body
    rows = reporter.execute(
        "select customer_id::text, city from marts.dim_customers where city is not null limit 20"
    ).fetchall()
    for customer_id, city in rows:
        assert city not in prompt, city
        if len(customer_id) >= 5:
            assert customer_id not in body, customer_id


@pytest.mark.parametrize(
    "bad_sql",
    [
        "select id as customer_id from shopify.customers",
        "select customer_id, email from marts.dim_customers",
    ],
)
def test_llm_unsafe_sql_is_refused_after_one_retry(
    reporter: psycopg.Connection, fake_llm: FakeOpenAI, bad_sql: str
) -> None:
    fake_llm.script = [(200, _draft(bad_sql)), (200, _draft(bad_sql))]
    with pytest.raises(SegmentRequestRefused, match="refused twice") as info:
        propose("customers who accept marketing", conn=reporter, llm=_settings(fake_llm))
    assert "shopify.customers" in info.value.reason or "email" in info.value.reason
    assert len(fake_llm.requests) == 2
    retry = fake_llm.requests[1]["messages"][-1]["content"]
    assert "The SQL was refused" in retry


def test_llm_is_not_called_for_an_injection_or_pii_request(
    reporter: psycopg.Connection, fake_llm: FakeOpenAI
) -> None:
    for question in ("customers; drop table marts.dim_customers", "the emails of repeat customers"):
        with pytest.raises(SegmentRequestRefused):
            propose(question, conn=reporter, llm=_settings(fake_llm))
    assert fake_llm.requests == []


# -- the CLI ------------------------------------------------------------------------------------------
def _cli_env(wh: WarehouseSettings) -> dict[str, str]:
    return {
        "WAREHOUSE_URL": wh.role_url("admin"),
        "WAREHOUSE_REPORTER_URL": wh.role_url("reporter"),
        "OPENAI_API_KEY": "",
    }


def test_cli_saves_a_yaml_load_segments_reads(ask_wh: WarehouseSettings, tmp_path: Path) -> None:
    question = "repeat customers who haven't ordered in 30 days"
    result = CliRunner().invoke(
        ask_command,
        [question, "--yes", "--name", "lapsed_repeat", "--segments-dir", str(tmp_path)],
        env=_cli_env(ask_wh),
    )
    assert result.exit_code == 0, result.output
    assert "rules (offline)" in result.output and "size:" in result.output
    (segment,) = load_segments(tmp_path)
    assert segment.name == "lapsed_repeat" and segment.question == question
    assert "c.recency_days > 30" in segment.sql
    with psycopg.connect(ask_wh.role_url("reporter"), autocommit=True) as conn:
        assert f"size:      {segment_size(conn, segment.sql):,} customers" in result.output


def test_cli_no_save_and_refusal(ask_wh: WarehouseSettings, tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(
        ask_command, ["one-time buyers", "--no-save", "--segments-dir", str(tmp_path)], env=_cli_env(ask_wh)
    )
    assert shown.exit_code == 0, shown.output
    assert list(tmp_path.iterdir()) == []
    refused = runner.invoke(ask_command, ["phone numbers of one-time buyers"], env=_cli_env(ask_wh))
    assert refused.exit_code == 2
    assert "contact details" in refused.output
