"""A faithful subset of the Shopify GraphQL Admin API schema (SDL), its resolvers and query cost.

Types, field names, nullability and argument names follow the real Admin API (2026-10; the contract
test checks every field here against Shopify's published schema of that version), so a query written
here runs unchanged against a real shop; fields Shopify deprecates carry the same `@deprecated`. Money amounts are the `Decimal` scalar (a string on the
wire), `numberOfOrders` is `UnsignedInt64` (a string too). Connections take `first`/`last`/`after`/
`before`, `reverse`, `sortKey` and a search `query` (only `updated_at`/`created_at` comparisons are
applied; other terms are ignored with a search warning, as Shopify does).

Mutations: `tagsAdd` / `tagsRemove` on a Customer gid (Shopify's signatures and payloads), needing
`write_customers`; the tag rules live in `shopify_world.CustomerTags`. An id that is not a global id is
refused as Shopify refuses it (a variable: `INVALID_VARIABLE` "Variable $id of type ID! was provided
invalid value" with the problem "Invalid global id '<id>'"; a literal: "Invalid global id '<id>'",
`argumentLiteralsIncompatible`); a gid of a type that cannot be tagged gets Shopify's top-level
`invalid id` (`RESOURCE_NOT_FOUND`); orders, products and the other taggable types are not served.

Cost (https://shopify.dev/docs/api/usage/rate-limits#graphql-admin-api-rate-limits): scalars and enums
0, objects 1, connections 2 + first x (cost of one node); a mutation 10 per root field; a query over
1000 points is refused.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
from datetime import UTC, datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    build_schema,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

from ingestion.sandbox.emulators.shopify_world import MAX_TAGS, CustomerTags, iso

MAX_PAGE = 250
SINGLE_QUERY_LIMIT = 1000
MUTATION_COST = 10  # Shopify's requested cost of a mutation
GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>[^/\s]+)$")
# what tagsAdd / tagsRemove accept at Shopify (`id` argument's description); only customers are served
TAGGABLE = ("Order", "DraftOrder", "Customer", "Product", "Article", "DiscountNode")
WRITE_SCOPES = {"Customer": "write_customers"}

SDL = """
scalar DateTime
scalar Decimal
scalar Money
scalar URL
scalar UnsignedInt64

interface Node { id: ID! }

enum CurrencyCode { USD EUR GBP CAD AUD }
enum OrderSortKeys { CREATED_AT CURRENT_TOTAL_PRICE CUSTOMER_NAME DESTINATION FINANCIAL_STATUS FULFILLMENT_STATUS ID ORDER_NUMBER PO_NUMBER PROCESSED_AT RELEVANCE TOTAL_ITEMS_QUANTITY TOTAL_PRICE UPDATED_AT }
enum CustomerSortKeys { CREATED_AT ID LOCATION NAME RELEVANCE UPDATED_AT }
enum ProductSortKeys { CREATED_AT ID INVENTORY_TOTAL PRODUCT_TYPE PUBLISHED_AT RELEVANCE TITLE UPDATED_AT VENDOR }
enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
enum CustomerState { DECLINED DISABLED ENABLED INVITED }
enum CustomerEmailMarketingState { INVALID NOT_SUBSCRIBED PENDING REDACTED SUBSCRIBED UNSUBSCRIBED }
enum CustomerMarketingOptInLevel { CONFIRMED_OPT_IN SINGLE_OPT_IN UNKNOWN }
enum CountryCode { US CA GB DE FR AU NL ES IT SE }
enum ProductStatus { ACTIVE ARCHIVED DRAFT }
enum MarketingTactic { ABANDONED_CART AD AFFILIATE LINK LOYALTY MESSAGE NEWSLETTER NOTIFICATION POST RETARGETING SEO STOREFRONT_APP TRANSACTIONAL }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Attribute { key: String! value: String }
type UTMParameters { campaign: String content: String medium: String source: String term: String }
type CustomerVisit implements Node {
  id: ID!
  landingPage: URL
  occurredAt: DateTime!
  referrerUrl: URL
  source: String!
  sourceDescription: String
  sourceType: MarketingTactic
  utmParameters: UTMParameters
}
type CustomerJourneySummary {
  customerOrderIndex: Int
  daysToConversion: Int
  firstVisit: CustomerVisit
  lastVisit: CustomerVisit
  ready: Boolean!
}
type CustomerEmailMarketingConsentState {
  consentUpdatedAt: DateTime
  marketingOptInLevel: CustomerMarketingOptInLevel
  marketingState: CustomerEmailMarketingState!
}
type MailingAddress { city: String countryCodeV2: CountryCode provinceCode: String }
enum CustomerEmailAddressMarketingState { INVALID NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED }
type CustomerEmailAddress {
  emailAddress: String!
  marketingOptInLevel: CustomerMarketingOptInLevel
  marketingState: CustomerEmailAddressMarketingState!
  marketingUpdatedAt: DateTime
}
type CustomerPhoneNumber { phoneNumber: String! }
type AccessScope { description: String! handle: String! }
type AppInstallation implements Node { id: ID! accessScopes: [AccessScope!]! }

type Customer implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  email: String @deprecated(reason: "Use `defaultEmailAddress.emailAddress` instead.")
  phone: String @deprecated(reason: "Use `defaultPhoneNumber.phoneNumber` instead.")
  defaultEmailAddress: CustomerEmailAddress
  defaultPhoneNumber: CustomerPhoneNumber
  firstName: String
  lastName: String
  state: CustomerState!
  emailMarketingConsent: CustomerEmailMarketingConsentState @deprecated(reason: "Use `defaultEmailAddress.marketingState`, `defaultEmailAddress.marketingOptInLevel`, `defaultEmailAddress.marketingUpdatedAt`, and `defaultEmailAddress.sourceLocation` instead.")
  createdAt: DateTime!
  updatedAt: DateTime!
  numberOfOrders: UnsignedInt64!
  amountSpent: MoneyV2!
  defaultAddress: MailingAddress
  tags: [String!]!
}

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  title: String!
  price: Money!
  product: Product!
  inventoryItem: InventoryItem!
}

type InventoryItem implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  unitCost: MoneyV2
}

type Product implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  productType: String!
  vendor: String!
  status: ProductStatus!
  tags: [String!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ProductVariantConnection!
}

type LineItem implements Node {
  id: ID!
  name: String!
  title: String!
  sku: String
  quantity: Int!
  originalUnitPriceSet: MoneyBag!
  totalDiscountSet: MoneyBag!
  product: Product
  variant: ProductVariant
}

type RefundLineItem {
  id: ID
  quantity: Int!
  subtotalSet: MoneyBag!
  lineItem: LineItem!
}

type Refund implements Node {
  id: ID!
  createdAt: DateTime
  note: String
  totalRefundedSet: MoneyBag!
  refundLineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): RefundLineItemConnection!
}

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  closed: Boolean!
  test: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  email: String
  phone: String
  currencyCode: CurrencyCode!
  sourceName: String
  subtotalPriceSet: MoneyBag
  totalDiscountsSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  totalTaxSet: MoneyBag
  totalPriceSet: MoneyBag!
  totalRefundedSet: MoneyBag!
  customer: Customer
  discountCode: String
  discountCodes: [String!]!
  customAttributes: [Attribute!]!
  customerJourneySummary: CustomerJourneySummary
  tags: [String!]!
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
  refunds(first: Int): [Refund!]!
}

type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }
type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }
type RefundLineItemEdge { cursor: String! node: RefundLineItem! }
type RefundLineItemConnection { edges: [RefundLineItemEdge!]! nodes: [RefundLineItem!]! pageInfo: PageInfo! }

type Shop { name: String! currencyCode: CurrencyCode! ianaTimezone: String! }

interface DisplayableError { field: [String!] message: String! }
type UserError implements DisplayableError { field: [String!] message: String! }
type TagsAddPayload { node: Node userErrors: [UserError!]! }
type TagsRemovePayload { node: Node userErrors: [UserError!]! }

type Mutation {
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  tagsRemove(id: ID!, tags: [String!]!): TagsRemovePayload
}

type Query {
  orders(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean = false, sortKey: OrderSortKeys = PROCESSED_AT, savedSearchId: ID): OrderConnection!
  customers(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean = false, sortKey: CustomerSortKeys = ID): CustomerConnection!
  products(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean = false, sortKey: ProductSortKeys = ID, savedSearchId: ID): ProductConnection!
  order(id: ID!): Order
  customer(id: ID!): Customer
  product(id: ID!): Product
  refund(id: ID!): Refund
  shop: Shop!
  currentAppInstallation: AppInstallation!
}
"""

SEARCH_TERM = re.compile(r"""(?P<field>[a-z_]+):(?P<op><=|>=|<|>)?(?P<value>'[^']*'|"[^"]*"|\S+)""")
SEARCH_FIELDS = {"updated_at": "updatedAt", "created_at": "createdAt", "processed_at": "processedAt"}
SORT_FIELDS = {
    "UPDATED_AT": "updatedAt",
    "CREATED_AT": "createdAt",
    "PROCESSED_AT": "processedAt",
    "ID": None,
}


SCOPE_DESCRIPTIONS = {
    "read_orders": "Read orders, transactions, and fulfillments",
    "read_all_orders": "Read all orders",
    "read_customers": "Read customers",
    "read_products": "Read products, variants, and collections",
    "write_customers": "Modify customers",
}
FIELD_SCOPES = {"orders": "read_orders", "order": "read_orders", "refund": "read_orders",
                "customers": "read_customers", "customer": "read_customers",
                "products": "read_products", "product": "read_products"}  # fmt: skip


def require_scope(info) -> None:
    """Shopify's ACCESS_DENIED for a root field the app has no scope for (a `write_` scope implies its
    `read_`)."""
    needed = FIELD_SCOPES.get(info.field_name)
    granted = set(info.context.get("scopes") or ())
    if needed and needed not in granted and needed.replace("read_", "write_", 1) not in granted:
        raise UserError(
            f"Access denied for {info.field_name} field. Required access: `{needed}` access scope.",
            "ACCESS_DENIED",
            documentation="https://shopify.dev/api/usage/access-scopes",
            requiredAccess=f"`{needed}` access scope.",
        )


def require_write_scope(info: GraphQLResolveInfo, type_name: str) -> None:
    """ACCESS_DENIED, worded as for reads, when a mutation writes a resource the app may not write."""
    needed = WRITE_SCOPES[type_name]
    if needed not in set(info.context.get("scopes") or ()):
        raise UserError(
            f"Access denied for {info.field_name} field. Required access: `{needed}` access scope.",
            "ACCESS_DENIED",
            documentation="https://shopify.dev/api/usage/access-scopes",
            requiredAccess=f"`{needed}` access scope.",
        )


def parse_gid(info: GraphQLResolveInfo, value: str) -> tuple[str, str]:
    """(type, id) of a global id; otherwise Shopify's coercion error, which depends on whether the id
    came in a variable or as a literal."""
    match = GID.match(value)
    if match:
        return match["type"], match["id"]
    problem = f"Invalid global id '{value}'"
    arg = next((a for a in info.field_nodes[0].arguments if a.name.value == "id"), None)
    if arg is not None and isinstance(arg.value, VariableNode):
        raise UserError(
            f"Variable ${arg.value.name.value} of type ID! was provided invalid value",
            "INVALID_VARIABLE",
            value=value,
            problems=[{"path": [], "explanation": problem, "message": problem}],
        )
    raise UserError(problem, "argumentLiteralsIncompatible", typeName="CoercionError")


class UserError(Exception):
    """A request Shopify answers with a top-level GraphQL error (HTTP 200)."""

    def __init__(self, message: str, code: str | None = None, **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extensions = extensions


def encode_cursor(last_id: int, last_value: str | None) -> str:
    """Shopify cursors are opaque base64 JSON of the last row's id and sort value."""
    raw = json.dumps({"last_id": last_id, "last_value": last_value}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, str | None]:
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True).decode())
        return int(data["last_id"]), data.get("last_value")
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"Invalid cursor for current pagination sort: {cursor!r}", "BAD_CURSOR") from exc


def numeric_id(node: dict[str, Any]) -> int:
    return int(node["id"].rsplit("/", 1)[1])


def _parse_when(value: str) -> str:
    text = value.strip("'\"")
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(text) from exc
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return iso(ts)


def search_filter(query: str | None) -> tuple[list[tuple[str, str, str]], list[dict[str, Any]]]:
    """Shopify search syntax, the subset a connector needs: `updated_at:>='2025-01-01T00:00:00Z'`
    terms joined by spaces/AND. Returns (conditions, search warnings for ignored terms)."""
    conditions, warnings = [], []
    if not query:
        return conditions, warnings
    for term in SEARCH_TERM.finditer(query):
        field, op, value = term.group("field"), term.group("op") or "=", term.group("value")
        if field not in SEARCH_FIELDS:
            warnings.append({"field": field, "message": f"Invalid search field for this query: {field}"})
            continue
        try:
            conditions.append((SEARCH_FIELDS[field], op, _parse_when(value)))
        except ValueError:
            warnings.append({"field": field, "message": f"Invalid date value {value!r}"})
    return conditions, warnings


def _matches(node: dict[str, Any], conditions: list[tuple[str, str, str]]) -> bool:
    for key, op, value in conditions:
        have = node.get(key)
        if have is None:
            return False
        ok = {
            "=": have[:10] == value[:10] if len(value) <= 10 else have == value,
            ">": have > value,
            ">=": have >= value,
            "<": have < value,
            "<=": have <= value,
        }[op]
        if not ok:
            return False
    return True


def _window(args: dict[str, Any]) -> int:
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise UserError("you must provide one of first or last", "BAD_REQUEST")
    if first is not None and last is not None:
        raise UserError("providing both first and last is not supported", "BAD_REQUEST")
    size = first if first is not None else last
    if size < 0 or size > MAX_PAGE:
        raise UserError(
            f"The {'first' if first is not None else 'last'} argument must be less than or equal to "
            f"{MAX_PAGE}",
            "BAD_REQUEST",
        )
    return size


def sort_key_of(node: dict[str, Any], sort_key: str | None) -> tuple[str, int]:
    return (node.get(sort_key) or "") if sort_key else "", numeric_id(node)


def connection(
    items: list[dict[str, Any]],
    args: dict[str, Any],
    sort_key: str | None,
    keys: list[tuple[str, int]] | None = None,
) -> dict[str, Any]:
    """One page of a connection over `items` (sorted by (sort value, id); `keys` = those tuples)."""
    size = _window(args)
    keys = keys if keys is not None else [sort_key_of(n, sort_key) for n in items]
    start, stop = 0, len(items)
    if args.get("after"):
        last_id, last_value = decode_cursor(args["after"])
        start = bisect.bisect_right(keys, (last_value or "", last_id))
    if args.get("before"):
        last_id, last_value = decode_cursor(args["before"])
        stop = bisect.bisect_left(keys, (last_value or "", last_id))
    window = items[start:stop]
    if args.get("last") is not None:
        page = window[max(0, len(window) - size) :]
        has_next, has_prev = stop < len(items), len(window) > size
    else:
        page = window[:size]
        has_next, has_prev = len(window) > size, start > 0

    def cursor(node: dict[str, Any]) -> str:
        return encode_cursor(numeric_id(node), node.get(sort_key) if sort_key else None)

    return {
        "nodes": page,
        "edges": [{"cursor": cursor(n), "node": n} for n in page],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": cursor(page[0]) if page else None,
            "endCursor": cursor(page[-1]) if page else None,
        },
    }


def nested_connection(items: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
    """Connections inside an object (line items, variants…), in their natural order, paged by position."""
    ordered = [dict(item, _pos=i) for i, item in enumerate(items)]
    if args.get("reverse"):
        ordered.reverse()
    size = _window(args)
    start = 0
    if args.get("after"):
        pos, _ = decode_cursor(args["after"])
        start = next((i + 1 for i, item in enumerate(ordered) if item["_pos"] == pos), len(ordered))
    page = ordered[start : start + size]

    def cursor(item: dict[str, Any]) -> str:
        return encode_cursor(item["_pos"], None)

    return {
        "nodes": page,
        "edges": [{"cursor": cursor(n), "node": n} for n in page],
        "pageInfo": {
            "hasNextPage": start + size < len(ordered),
            "hasPreviousPage": start > 0,
            "startCursor": cursor(page[0]) if page else None,
            "endCursor": cursor(page[-1]) if page else None,
        },
    }


def build_shopify_schema(view_provider, customer_tags: CustomerTags | None = None) -> Any:
    """The executable schema; `view_provider()` returns the current `ShopView`, `customer_tags` holds
    what `tagsAdd` / `tagsRemove` write."""
    schema = build_schema(SDL)

    # filtered + sorted listings with their sort keys, per (view, query, sort): a connector paging
    # through 10k orders must not make every page re-filter the whole shop
    listings: dict[tuple, tuple[list[dict[str, Any]], list[tuple[str, int]]]] = {}

    def top(name: str, sort_keys: dict[str, str | None]):
        def resolve(_root, _info, **args):
            require_scope(_info)
            view = view_provider()
            items = getattr(view, name)
            since = _info.context.get("orders_since") if name == "orders" else None
            conditions, warnings = search_filter(args.get("query"))
            if warnings:
                _info.context.setdefault("search", []).append({"path": [name], "query": args["query"],
                                                               "warnings": warnings})  # fmt: skip
            sort = args.get("sortKey") or "ID"
            sort_field = sort_keys.get(sort, "__unsupported__")
            if sort_field == "__unsupported__":
                raise UserError(f"sortKey {sort} is not served by the sandbox emulator", "BAD_REQUEST")
            if args.get("reverse"):
                raise UserError("reverse is not served by the sandbox emulator", "BAD_REQUEST")
            cache_key = (name, id(view), view.as_of, view.revision, tuple(conditions), sort_field, since)
            if cache_key not in listings:
                if since:  # without read_all_orders: the last 60 days only
                    items = [n for n in items if n["createdAt"] >= since]
                if conditions:
                    items = [n for n in items if _matches(n, conditions)]
                if sort_field != "updatedAt":
                    items = sorted(items, key=lambda n: sort_key_of(n, sort_field))
                if len(listings) > 64:
                    listings.clear()
                listings[cache_key] = (items, [sort_key_of(n, sort_field) for n in items])
            items, keys = listings[cache_key]
            return connection(items, args, sort_field, keys)

        return resolve

    def single(name: str):
        def resolve(_root, _info, id: str):  # noqa: A002 - GraphQL argument name
            require_scope(_info)
            node = next((n for n in getattr(view_provider(), name) if n["id"] == id), None)
            since = _info.context.get("orders_since") if name == "orders" else None
            return None if node is None or (since and node["createdAt"] < since) else node

        return resolve

    def refund(_root, info, id: str):  # noqa: A002 - GraphQL argument name
        require_scope(info)
        return next((r for o in view_provider().orders for r in o["_refunds"] if r["id"] == id), None)

    query = schema.query_type
    query.fields["orders"].resolve = top("orders", SORT_FIELDS)
    query.fields["customers"].resolve = top("customers", SORT_FIELDS)
    query.fields["products"].resolve = top("products", SORT_FIELDS)
    query.fields["order"].resolve = single("orders")
    query.fields["customer"].resolve = single("customers")
    query.fields["product"].resolve = single("products")
    query.fields["refund"].resolve = refund
    query.fields["shop"].resolve = lambda _root, info: {
        "name": info.context["shop_name"], "currencyCode": "USD", "ianaTimezone": "Etc/UTC",
    }  # fmt: skip
    query.fields["currentAppInstallation"].resolve = lambda _root, info: {
        "id": "gid://shopify/AppInstallation/1",
        "accessScopes": [{"handle": h, "description": SCOPE_DESCRIPTIONS.get(h, h)} for h in info.context["scopes"]],
    }  # fmt: skip

    def nested(key: str):
        return lambda source, _info, **args: nested_connection(source.get(key, []), args)

    schema.type_map["Order"].fields["lineItems"].resolve = nested("_lineItems")
    schema.type_map["Order"].fields["refunds"].resolve = lambda source, _info, first=None: (
        source["_refunds"][:first] if first is not None else source["_refunds"]
    )
    schema.type_map["Refund"].fields["refundLineItems"].resolve = nested("_refundLineItems")
    schema.type_map["Product"].fields["variants"].resolve = nested("_variants")
    # Node has no __typename in the world's dicts: a node's type is the one its gid names
    schema.type_map["Node"].resolve_type = lambda node, _info, _type: GID.match(node["id"])["type"]

    def tag_mutation(add: bool):
        def resolve(_root, info, id: str, tags: list[str]):  # noqa: A002 - GraphQL argument name
            type_name, _ = parse_gid(info, id)
            if type_name not in TAGGABLE:
                raise UserError("invalid id", "RESOURCE_NOT_FOUND")
            if type_name not in WRITE_SCOPES:
                raise UserError(f"{info.field_name} on a {type_name} is not served by the sandbox emulator",
                                "BAD_REQUEST")  # fmt: skip
            require_write_scope(info, type_name)
            if len(tags) > MAX_TAGS:
                raise UserError(
                    f"The input array size of {len(tags)} is greater than the maximum allowed of {MAX_TAGS}.",
                    "MAX_INPUT_SIZE_EXCEEDED",
                )
            if customer_tags is None:
                raise UserError("this emulator serves no tag writes", "BAD_REQUEST")
            change = customer_tags.change(view_provider(), id, tags, add)
            return {"node": change.node, "userErrors": list(change.user_errors)}

        return resolve

    mutation = schema.mutation_type
    mutation.fields["tagsAdd"].resolve = tag_mutation(add=True)
    mutation.fields["tagsRemove"].resolve = tag_mutation(add=False)
    return schema


# -- cost ----------------------------------------------------------------------------------------
def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    out: list[FieldNode] = []
    for sel in selection_set.selections if selection_set else ():
        if isinstance(sel, FieldNode):
            out.append(sel)
        elif isinstance(sel, InlineFragmentNode):
            out.extend(_fields(sel.selection_set, fragments))
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            out.extend(_fields(fragments[sel.name.value].selection_set, fragments))
    return out


def _operation(document, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return next((o for o in operations if o.name and o.name.value == operation_name), operations[0])


def mutation_cost(op: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]) -> int:
    """Shopify charges a mutation 10 points, whatever its payload selects."""
    roots = [f for f in _fields(op.selection_set, fragments) if not f.name.value.startswith("__")]
    return MUTATION_COST * len(roots)


def _arg(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for arg in field.arguments or ():
        if arg.name.value == name:
            return value_from_ast_untyped(arg.value, variables)
    return None


def query_cost(
    schema,
    document,
    variables: dict[str, Any],
    operation_name: str | None = None,
    page_sizes: dict[str, int] | None = None,
) -> int:
    """Requested cost of the operation; with `page_sizes` (top-level field -> nodes returned) the
    actual cost, where top-level connections count the nodes they returned instead of `first`."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    op = _operation(document, operation_name)
    if op.operation == OperationType.MUTATION:
        return mutation_cost(op, fragments)

    def cost(selection_set, parent: GraphQLObjectType, top: bool) -> int:
        total = 0
        for field in _fields(selection_set, fragments):
            name = field.name.value
            if name.startswith("__") or name not in parent.fields:
                continue
            named = get_named_type(parent.fields[name].type)
            if is_leaf_type(named) or named.name == "PageInfo":
                continue
            if named.name.endswith("Connection"):
                size = _arg(field, "first", variables) or _arg(field, "last", variables) or 0
                if top and page_sizes is not None and name in page_sizes:
                    size = page_sizes[name]
                node = 0
                for sub in _fields(field.selection_set, fragments):
                    sub_type = get_named_type(named.fields[sub.name.value].type)
                    if sub.name.value == "nodes":
                        node += 1 + cost(sub.selection_set, sub_type, False)
                    elif sub.name.value == "edges":
                        for edge_field in _fields(sub.selection_set, fragments):
                            if edge_field.name.value == "node":
                                node_type = get_named_type(sub_type.fields["node"].type)
                                node += 1 + cost(edge_field.selection_set, node_type, False)
                total += 2 + int(size) * node
            else:
                total += 1 + cost(field.selection_set, named, False)
        return total

    return cost(op.selection_set, schema.query_type, True)


def actual_cost(schema, document, data: dict[str, Any] | None, operation_name: str | None = None) -> int:
    """Cost of what was returned: connections count the nodes they returned (Shopify refunds the
    difference between requested and actual cost to the bucket)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    op = _operation(document, operation_name)
    if op.operation == OperationType.MUTATION:
        return mutation_cost(op, fragments)  # nothing is refunded for a mutation

    def cost(selection_set, parent: GraphQLObjectType, value: Any) -> int:
        if not isinstance(value, dict):
            return 0
        total = 0
        for field in _fields(selection_set, fragments):
            name = field.name.value
            if name.startswith("__") or name not in parent.fields:
                continue
            named = get_named_type(parent.fields[name].type)
            if is_leaf_type(named) or named.name == "PageInfo":
                continue
            child = value.get(field.alias.value if field.alias else name)
            if named.name.endswith("Connection"):
                total += 2
                for sub in _fields(field.selection_set, fragments):
                    sub_type = get_named_type(named.fields[sub.name.value].type)
                    key = sub.alias.value if sub.alias else sub.name.value
                    for item in (child or {}).get(key) or []:
                        if sub.name.value == "nodes":
                            total += 1 + cost(sub.selection_set, sub_type, item)
                        elif sub.name.value == "edges":
                            for edge_field in _fields(sub.selection_set, fragments):
                                if edge_field.name.value == "node":
                                    node_type = get_named_type(sub_type.fields["node"].type)
                                    total += 1 + cost(edge_field.selection_set, node_type, item.get("node"))
            elif isinstance(child, list):
                total += 1 + max((cost(field.selection_set, named, item) for item in child), default=0)
            else:
                total += 1 + cost(field.selection_set, named, child)
        return total

    return cost(op.selection_set, schema.query_type, data or {})
