"""The provisioning client against a fake Metabase over HTTP: idempotence, update in place, export."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from dashboards.metabase_client import MetabaseClient
from dashboards.model import Dashboard, Layout
from dashboards.provision import apply, export, reporter_database


def _login(url: str, fake) -> MetabaseClient:
    client = MetabaseClient(url)
    client.login(fake.user, fake.password)
    return client


def _replace_card(board: Dashboard, key: str, **changes) -> Dashboard:
    cards = [c.model_copy(update=changes) if c.key == key else c for c in board.cards]
    return Dashboard.model_validate({**board.model_dump(), "cards": [c.model_dump() for c in cards]})


def test_first_apply_creates_everything_wired(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    report = apply(_login(url, fake), definitions, db_spec)

    n_cards = sum(len(d.cards) for d in definitions)
    assert len(fake.databases) == 1 and fake.syncs == [report.database_id]
    db = fake.databases[report.database_id]
    assert db["details"]["user"] == "reporter" and db["details"]["host"] == "host.docker.internal"
    assert len(fake.collections) == 1
    assert len(fake.cards) == n_cards
    assert len(fake.dashboards) == len(definitions)
    for board in definitions:
        dash = fake.dashboards[report.dashboards[board.key]]
        assert len(dash["dashcards"]) == len(board.cards)
        assert {p["slug"] for p in dash["parameters"]} == {p.key for p in board.parameters}
        wired = {m["target"][1][1] for dc in dash["dashcards"] for m in dc["parameter_mappings"]}
        assert wired == {p.key for p in board.parameters}, "every filter reaches at least one card"
    # a required filter (attribution model) is a required template tag with the default
    acq_card = next(c for c in fake.cards.values() if c["name"] == "Attributed revenue")
    tag = acq_card["dataset_query"]["native"]["template-tags"]["attribution_model"]
    assert tag["required"] is True and tag["default"] == "last_non_direct"
    assert acq_card["dataset_query"]["native"]["template-tags"]["channel"]["required"] is False


def test_second_apply_changes_nothing(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    first = apply(_login(url, fake), definitions, db_spec)
    fake.log.clear()
    second = apply(_login(url, fake), definitions, db_spec)
    assert fake.writes() == [], f"second apply wrote: {fake.writes()}"
    assert second.created == second.updated == second.archived == []
    assert second.dashboards == first.dashboards
    assert fake.syncs == [first.database_id]


def test_edited_card_is_updated_in_place(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    first = apply(_login(url, fake), definitions, db_spec)
    card_ids = set(fake.cards)
    funnel = next(d for d in definitions if d.key == "funnel")
    old = next(c for c in funnel.cards if c.key == "conversion_trend")
    edited = _replace_card(
        funnel, "conversion_trend", sql=old.sql.replace("date_trunc('week'", "date_trunc('month'")
    )
    boards = [edited if d.key == "funnel" else d for d in definitions]

    fake.log.clear()
    report = apply(_login(url, fake), boards, db_spec)
    target = next(c for c in fake.cards.values() if c["name"] == old.name)
    assert fake.writes() == [("PUT", f"/api/card/{target['id']}")]
    assert set(fake.cards) == card_ids, "no card created"
    assert "date_trunc('month'" in target["dataset_query"]["native"]["query"]
    assert report.updated == ["card funnel.conversion_trend"]
    assert report.dashboards == first.dashboards


def test_layout_change_and_removed_card(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    first = apply(_login(url, fake), definitions, db_spec)
    cohorts = next(d for d in definitions if d.key == "cohorts")
    moved = _replace_card(cohorts, "cohort_sizes", layout=Layout(row=30, col=0, size_x=10, size_y=7))
    trimmed = Dashboard.model_validate(
        {
            **moved.model_dump(),
            "cards": [c.model_dump() for c in moved.cards if c.key != "revenue_per_customer_by_channel"],
        }
    )
    fake.log.clear()
    report = apply(_login(url, fake), [trimmed if d.key == "cohorts" else d for d in definitions], db_spec)
    dash_id = first.dashboards["cohorts"]
    removed = next(
        c
        for c in fake.cards.values()
        if c["name"].startswith("Cumulative net revenue per customer, by first")
    )
    assert removed["archived"] is True
    assert sorted(fake.writes()) == sorted(
        [("PUT", f"/api/card/{removed['id']}"), ("PUT", f"/api/dashboard/{dash_id}")]
    )
    dash = fake.dashboards[dash_id]
    assert len(dash["dashcards"]) == len(trimmed.cards)
    sizes = next(
        dc for dc in dash["dashcards"] if fake.cards[dc["card_id"]]["name"] == "New customers per cohort"
    )
    assert sizes["row"] == 30
    assert report.archived == ["card cohorts.revenue_per_customer_by_channel"]
    # and back: the archived card is restored in place, not recreated
    n_cards = len(fake.cards)
    fake.log.clear()
    apply(_login(url, fake), definitions, db_spec)
    assert removed["archived"] is False and len(fake.cards) == n_cards
    assert sorted(fake.writes()) == sorted(
        [("PUT", f"/api/card/{removed['id']}"), ("PUT", f"/api/dashboard/{dash_id}")]
    )


def test_changed_connection_updates_database_and_syncs(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    first = apply(_login(url, fake), definitions, db_spec)
    moved = db_spec.__class__(host="postgres", port=5432, dbname="journey", user="reporter", password="pw")
    fake.log.clear()
    apply(_login(url, fake), definitions, moved)
    assert fake.writes() == [("PUT", f"/api/database/{first.database_id}"),
                             ("POST", f"/api/database/{first.database_id}/sync_schema")]  # fmt: skip
    assert fake.databases[first.database_id]["details"]["host"] == "postgres"


def test_newer_query_shape_is_understood(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    apply(_login(url, fake), definitions, db_spec)
    fake.mbql5 = True
    fake.log.clear()
    apply(_login(url, fake), definitions, db_spec)
    assert fake.writes() == []


def test_first_run_setup_creates_the_admin(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    fake.has_user = False
    client = MetabaseClient(url)
    client.login("owner@example.com", "Another-pass1")
    assert fake.user == "owner@example.com"
    apply(client, definitions[:1], db_spec)
    assert len(fake.dashboards) == 1


def test_export_round_trips(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    report = apply(_login(url, fake), definitions, db_spec)
    client = _login(url, fake)
    for board in definitions:
        text = export(client, report.dashboards[board.key])
        again = Dashboard.model_validate(yaml.safe_load(text))
        assert again.model_dump() == board.model_dump(), board.key
    # and applying the exported definitions changes nothing
    exported = [
        Dashboard.model_validate(yaml.safe_load(export(client, i))) for i in report.dashboards.values()
    ]
    fake.log.clear()
    apply(_login(url, fake), exported, db_spec)
    assert fake.writes() == []


def test_export_of_a_hand_made_dashboard_renames_tags_to_filter_slugs(fake_metabase, db_spec, definitions):
    fake, url = fake_metabase
    apply(_login(url, fake), definitions[:1], db_spec)
    client = _login(url, fake)
    card = client.create_card({
        "name": "Orders by day", "display": "line", "visualization_settings":
        {"graph.dimensions": ["order_date"], "graph.metrics": ["orders"]},
        "dataset_query": {"type": "native", "database": 1, "native": {
            "query": "select order_date, count(*) as orders from marts.fct_orders where true [[and order_date >= {{start}}]] group by 1",
            "template-tags": {"start": {"id": "x1", "name": "start", "display-name": "Start", "type": "date"}}}},
    })  # fmt: skip
    dash = client.create_dashboard({"name": "Ad hoc (sales)", "parameters": [
        {"id": "p1", "name": "Since", "slug": "since", "type": "date/single", "sectionId": "date"}]})  # fmt: skip
    client.update_dashboard(dash["id"], {"dashcards": [{
        "id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 12, "size_y": 6,
        "parameter_mappings": [{"parameter_id": "p1", "card_id": card["id"],
                                "target": ["variable", ["template-tag", "start"]]}]}]})  # fmt: skip
    board = Dashboard.model_validate(yaml.safe_load(export(client, dash["id"])))
    assert board.key == "ad_hoc_sales" and board.cards[0].key == "orders_by_day"
    assert "{{since}}" in board.cards[0].sql and board.parameters[0].type == "date"


def test_cli_apply_reads_env_and_never_prints_the_password(fake_metabase, monkeypatch, tmp_path):
    from orchestration.cli import main

    fake, url = fake_metabase
    monkeypatch.setenv("METABASE_URL", url)
    monkeypatch.setenv("METABASE_USER", fake.user)
    monkeypatch.setenv("METABASE_PASSWORD", fake.password)
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://postgres:adminpw@127.0.0.1:5433/journey")
    monkeypatch.setenv("WAREHOUSE_REPORTER_URL", "postgresql://reporter:rep-Secret-9@127.0.0.1:5433/journey")
    runner = CliRunner()
    result = runner.invoke(main, ["dashboards", "apply", "--db-host", "postgres", "--db-port", "5432"])
    assert result.exit_code == 0, result.output
    assert "0 updated" in result.output and fake.password not in result.output
    assert "rep-Secret-9" not in result.output
    db = next(iter(fake.databases.values()))
    assert (db["details"]["host"], db["details"]["port"], db["details"]["password"]) == (
        "postgres",
        5432,
        "rep-Secret-9",
    )
    again = runner.invoke(main, ["dashboards", "apply", "--db-host", "postgres", "--db-port", "5432"])
    assert "0 created, 0 updated, 0 archived" in again.output

    out = tmp_path / "funnel.yml"
    dash_id = next(d["id"] for d in fake.dashboards.values() if d["name"] == "Funnel")
    result = runner.invoke(main, ["dashboards", "export", "--dashboard", str(dash_id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["key"] == "funnel"


def test_reporter_database_uses_the_embedded_reporters_own_password(warehouse):
    spec = reporter_database(db_host="host.docker.internal")
    password = warehouse.role_password("reporter")
    assert password and password != warehouse.role_password("admin")
    assert (spec.host, spec.port, spec.user, spec.password) == (
        "host.docker.internal", warehouse.port, "reporter", password,
    )  # fmt: skip
    assert password not in repr(spec.payload()["name"])


def test_reporter_database_never_uses_the_admin_from_warehouse_url(monkeypatch):
    monkeypatch.delenv("WAREHOUSE_REPORTER_URL", raising=False)
    env = {
        "WAREHOUSE_URL": "postgresql://postgres:admin-pw@db.internal:5432/journey",
        "REPORTER_PASSWORD": "r-pw",
    }
    spec = reporter_database(env=env)
    assert (spec.host, spec.port, spec.dbname, spec.user, spec.password) == (
        "db.internal",
        5432,
        "journey",
        "reporter",
        "r-pw",
    )


def test_field_filters_are_dimension_tags_on_the_synced_fields(fake_metabase, definitions, db_spec):
    fake, url = fake_metabase
    report = apply(_login(url, fake), definitions, db_spec)
    ids = fake.field_ids()
    dash = fake.dashboards[report.dashboards["sales"]]
    period = next(p for p in dash["parameters"] if p["slug"] == "period")
    assert period["type"] == "date/all-options" and period["default"] == "past12months"
    card = next(c for c in fake.cards.values() if c["name"] == "ROAS, CAC and POAS by paid channel")
    tags = card["dataset_query"]["native"]["template-tags"]
    assert tags["period"]["type"] == "dimension" and tags["period"]["widget-type"] == "date/all-options"
    assert tags["period"]["dimension"] == ["field", ids["marts.fct_channel_performance_daily.date_day"], None]
    assert tags["channel"]["dimension"][1] == ids["marts.fct_channel_performance_daily.channel"]
    assert tags["attribution_model"]["type"] == "text"  # a variable with a static dropdown list
    orders = next(c for c in fake.cards.values() if c["name"] == "Net revenue")
    assert (
        orders["dataset_query"]["native"]["template-tags"]["period"]["dimension"][1]
        == ids["marts.fct_orders.order_date"]
    )
    targets = {m["target"][0] for dc in dash["dashcards"] for m in dc["parameter_mappings"]}
    assert targets == {"dimension", "variable"}
    exported = export(_login(url, fake), report.dashboards["sales"])
    again = Dashboard.model_validate(yaml.safe_load(exported))
    sales = next(d for d in definitions if d.key == "sales")
    assert again.parameter("period") == sales.parameter("period")
    assert again.parameter("channel") == sales.parameter("channel")


def test_a_column_metabase_has_not_synced_waits_for_a_sync_then_names_it(fake_metabase, definitions, db_spec):
    import pytest

    from dashboards.metabase_client import MetabaseError

    fake, url = fake_metabase
    fake.syncs_before_metadata = 2  # the sync apply triggers on creation has not finished
    report = apply(_login(url, fake), definitions, db_spec, sync_wait=10)
    assert fake.syncs == [report.database_id, report.database_id]  # a second sync, then the fields
    fake.tables.pop("marts.fct_orders")  # a mart Metabase cannot see (not built, or not granted)
    with pytest.raises(MetabaseError, match="marts.fct_orders.order_date"):
        apply(_login(url, fake), definitions, db_spec, sync_wait=0)
