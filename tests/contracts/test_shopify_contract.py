"""Tier 6: the Shopify connector's GraphQL documents against Shopify's published Admin API schema.

The schema is the vendor's own artifact for the pinned version (`DEFAULT_API_VERSION`), kept as a
fixture with its provenance (fixtures/shopify/README.md: npm `@shopify/dev-mcp`). Checked:
- every document the connector and its check send (`query_documents()`: the three feeds' pages, the
  three nested rest-of queries, the check's shop and scopes queries) validates, variables included;
- none reads a field Shopify deprecated in that version (e.g. `Customer.email`);
- a planted unknown field and a planted deprecated field are caught (so these tests can fail);
- the activation's customer-tag documents (`tag_documents()`: `tagsAdd`, `tagsRemove` and the tags
  read-back) validate and read nothing deprecated; a planted payload field Shopify lacks is caught;
- the emulator's schema subset agrees with Shopify's, field by field (type, nullability, arguments,
  deprecation), so what passes against the emulator passes against Shopify.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    NoDeprecatedCustomRule,
    build_client_schema,
    build_schema,
    parse,
    validate,
)

from ingestion.activation.shopify_tags import TAGS_ADD, tag_documents
from ingestion.sandbox.emulators.shopify import SUPPORTED_VERSIONS
from ingestion.sandbox.emulators.shopify_schema import SDL
from ingestion.shopify.client import query_documents
from ingestion.shopify.settings import DEFAULT_API_VERSION

FIXTURE = Path(__file__).parent / "fixtures" / "shopify" / f"admin_{DEFAULT_API_VERSION}.json.gz"
DOCUMENTS = query_documents()
TAG_DOCUMENTS = tag_documents()


@pytest.fixture(scope="module")
def shopify() -> GraphQLSchema:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as fh:
        return build_client_schema(json.load(fh)["data"])


def test_the_pinned_schema_is_the_default_version():
    assert FIXTURE.exists(), f"no published schema for DEFAULT_API_VERSION={DEFAULT_API_VERSION}"
    assert SUPPORTED_VERSIONS[-1] == DEFAULT_API_VERSION  # the newest the emulator serves
    assert len(DOCUMENTS) == 8


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_document_validates_against_shopifys_schema(shopify, name):
    errors = validate(shopify, parse(DOCUMENTS[name]))
    assert [e.message for e in errors] == [], DOCUMENTS[name]


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_no_document_reads_a_deprecated_field(shopify, name):
    errors = validate(shopify, parse(DOCUMENTS[name]), [NoDeprecatedCustomRule])
    assert [e.message for e in errors] == []


def test_a_planted_unknown_field_fails(shopify):
    planted = DOCUMENTS["orders page"].replace(
        "displayFinancialStatus", "displayFinancialStatus totalPriceUsd"
    )
    assert planted != DOCUMENTS["orders page"]
    errors = validate(shopify, parse(planted))
    assert len(errors) == 1
    assert errors[0].message.startswith("Cannot query field 'totalPriceUsd' on type 'Order'.")


def test_a_planted_deprecated_field_is_caught(shopify):
    planted = DOCUMENTS["customers page"].replace("firstName", "email firstName")
    assert validate(shopify, parse(planted)) == []  # still valid: Shopify serves it...
    errors = validate(shopify, parse(planted), [NoDeprecatedCustomRule])
    assert [e.message for e in errors] == [  # ...but it is on its way out
        "The field Customer.email is deprecated. Use `defaultEmailAddress.emailAddress` instead."
    ]


@pytest.mark.parametrize("name", list(TAG_DOCUMENTS))
def test_every_tag_document_validates_against_shopifys_schema(shopify, name):
    document = parse(TAG_DOCUMENTS[name])
    assert [e.message for e in validate(shopify, document)] == [], TAG_DOCUMENTS[name]
    assert [e.message for e in validate(shopify, document, [NoDeprecatedCustomRule])] == []


def test_a_planted_tag_payload_field_fails(shopify):
    planted = TAGS_ADD.replace("userErrors { field message }", "userErrors { field message code }")
    assert planted != TAGS_ADD
    assert [e.message for e in validate(shopify, parse(planted))] == [
        "Cannot query field 'code' on type 'UserError'."
    ]


def _differences(emulator: GraphQLSchema, vendor: GraphQLSchema) -> list[str]:
    out = []
    for name, ours in emulator.type_map.items():
        if name.startswith("__"):
            continue
        theirs = vendor.type_map.get("QueryRoot" if name == "Query" else name)
        if theirs is None:
            out.append(f"type {name} is not Shopify's")
            continue
        if type(ours) is not type(theirs):
            out.append(f"{name}: {type(ours).__name__} here, {type(theirs).__name__} at Shopify")
            continue
        if isinstance(ours, GraphQLEnumType):
            out += [f"{name}.{v}: no such enum value" for v in ours.values if v not in theirs.values]
        if not isinstance(ours, GraphQLObjectType | GraphQLInterfaceType):
            continue
        out += [f"{name} implements {i.name}: Shopify's does not" for i in ours.interfaces
                if i.name not in {j.name for j in theirs.interfaces}]  # fmt: skip
        for field_name, field in ours.fields.items():
            vendor_field = theirs.fields.get(field_name)
            where = f"{name}.{field_name}"
            if vendor_field is None:
                out.append(f"{where}: no such field")
                continue
            if str(field.type) != str(vendor_field.type):
                out.append(f"{where}: {field.type} here, {vendor_field.type} at Shopify")
            if (field.deprecation_reason is None) != (vendor_field.deprecation_reason is None):
                out.append(f"{where}: deprecated here={field.deprecation_reason is not None}, at Shopify="
                           f"{vendor_field.deprecation_reason is not None}")  # fmt: skip
            for arg_name, arg in field.args.items():
                vendor_arg = vendor_field.args.get(arg_name)
                if vendor_arg is None:
                    out.append(f"{where}({arg_name}): no such argument")
                elif str(arg.type) != str(vendor_arg.type):
                    out.append(f"{where}({arg_name}): {arg.type} here, {vendor_arg.type} at Shopify")
    return out


def test_the_emulator_schema_is_a_subset_of_shopifys(shopify):
    assert _differences(build_schema(SDL), shopify) == []


def test_the_subset_comparison_can_fail(shopify):
    planted = SDL.replace("  cancelledAt: DateTime\n", "  cancelledAt: DateTime!\n  totalPriceUsd: Money\n")
    assert planted != SDL
    assert _differences(build_schema(planted), shopify) == [
        "Order.cancelledAt: DateTime! here, DateTime at Shopify",
        "Order.totalPriceUsd: no such field",
    ]
