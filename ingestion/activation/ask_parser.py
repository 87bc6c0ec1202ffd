"""The offline rule-based segment parser: a request in words -> a `SegmentSpec` of typed filters.

`parse_question` recognizes a fixed set of phrasings (recency, order count, spend, location, acquisition
channel, category bought, churn band, predicted-LTV band, marketing consent); `UNDERSTOOD_FORMS` lists
them for refusals, and `describe` puts a filter back into words.

Two kinds of request are refused (`screen_request`) before anything is parsed or sent to an LLM: text
carrying SQL (an injection attempt: a segment request is words, the SQL is ours to write) and requests
for contact details (segments are customer ids; emails, phones, names and addresses never leave the
warehouse this way). The parser also refuses words it does not understand rather than quietly dropping
them: a segment that ignores half the request is worse than none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ingestion.activation.ask_places import _PLACE_NAMES, CA_PROVINCES, CITY_ALIASES, COUNTRIES, US_STATES


class SegmentRequestRefused(ValueError):
    """The request cannot become a segment; `reason` says why, in words for the person who asked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- the spec ---------------------------------------------------------------------------------------
Kind = Literal[
    "recency", "frequency", "spend", "location", "channel", "category", "churn_band", "ltv_band",
    "predicted_ltv", "marketing",
]  # fmt: skip


@dataclass(frozen=True)
class Filter:
    """One condition. `recency`: days since the last order (`>` 90 = no order in the last 90 days);
    `frequency`: orders; `spend`: net revenue to date; `location`: `field` is country_code,
    province_code or city; `channel`: first-touch channel group; `category`: a category bought;
    `churn_band`: ml.churn_scores.risk_band; `ltv_band`: op 'top'/'bottom', value = percent of customers
    by predicted LTV; `predicted_ltv`: predicted LTV amount; `marketing`: marketing_allowed."""

    kind: Kind
    op: str
    value: Any
    field: str | None = None


@dataclass(frozen=True)
class SegmentSpec:
    """The filters of a request, ANDed, in the order the request states them."""

    filters: tuple[Filter, ...]

    def phrases(self) -> list[str]:
        return [describe(f) for f in self.filters]


# -- vocabulary -------------------------------------------------------------------------------------
# the groups dbt_project/macros/channel_group.sql produces (channel_names())
CHANNEL_WORDS = {
    "paid social": "Paid Social", "social ads": "Paid Social", "facebook ads": "Paid Social",
    "meta ads": "Paid Social", "instagram ads": "Paid Social", "tiktok ads": "Paid Social",
    "paid search": "Paid Search", "google ads": "Paid Search", "adwords": "Paid Search",
    "search ads": "Paid Search", "ppc": "Paid Search", "organic search": "Organic Search",
    "seo": "Organic Search", "organic social": "Organic Social", "email": "Email", "e-mail": "Email",
    "newsletter": "Email", "referrals": "Referral", "referral": "Referral", "direct": "Direct",
    "display": "Display", "affiliates": "Affiliates", "affiliate": "Affiliates",
}  # fmt: skip
# ml/churn/model.py risk_band: >= 0.7 high, >= 0.4 medium, else low
CHURN_BANDS = ("high", "medium", "low")
HIGH_LTV_PERCENT = 10  # "high predicted LTV" = the top decile

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1, "once": 1, "twice": 2,
}  # fmt: skip
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
QUANTILES = {"decile": 10, "quintile": 20, "quartile": 25, "half": 50}
COMPARATORS = {
    "more than": ">", "over": ">", "above": ">", "greater than": ">", "exceeding": ">", ">": ">",
    "at least": ">=", "min": ">=", "minimum": ">=", ">=": ">=", "less than": "<", "under": "<",
    "below": "<", "fewer than": "<", "<": "<", "at most": "<=", "no more than": "<=", "up to": "<=",
    "max": "<=", "maximum": "<=", "<=": "<=", "exactly": "=", "=": "=",
}  # fmt: skip


def _alternation(words: Iterable[str]) -> str:
    """Longest first, so 'west virginia' wins over 'virginia'."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_NUM = r"\d[\d,]*(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_DUR = rf"(?:(?P<n>{_NUM}|an?)\s*-?\s*)?(?P<unit>day|week|month|year)s?\b"
_CMP = _alternation(COMPARATORS)
_MONEY = r"(?:[$€£]\s*)?(?P<amount>\d[\d,]*(?:\.\d+)?)\s*(?P<k>k\b)?(?:\s*(?:dollars|usd|euros?|eur|pounds|gbp|bucks)\b)?"
_ORDER_VERB = r"(?:ordered|purchased|bought|shopped|placed an order|made a purchase)"
_WHO = r"(?:customers?|buyers?|purchasers?|shoppers?|clients?)"


# -- refusals ---------------------------------------------------------------------------------------
_INJECTION = (
    (re.compile(r";"), "a ';'"),
    (re.compile(r"--|/\*|\*/"), "an SQL comment"),
    (
        re.compile(
            r"\b(?:drop|delete|insert|truncate|alter|grant|revoke)\b|\bcopy\s+[\w.]+\s+(?:to|from)\b", re.I
        ),
        "an SQL command word",
    ),
    (re.compile(r"\bupdate\s+[\w.\"]+\s+set\b", re.I), "an SQL UPDATE"),
    (
        re.compile(r"\bcreate\s+(?:or\s+replace\s+)?(?:table|view|role|user|function|schema)\b", re.I),
        "CREATE",
    ),
    (
        re.compile(r"\bunion\s+(?:all\s+)?select\b|\bselect\s+(?:\*|distinct\b|count\s*\(|\w+\s*,)", re.I),
        "SQL",
    ),
    (
        re.compile(r"\b(?:from|join)\s+[a-z_]{2,}\.[a-z_]{2,}\b|\bpg_\w+|\binformation_schema\b", re.I),
        "a table name",
    ),
    (re.compile(r"\bwhere\s+[\w.]+\s*(?:=|<|>|\bis\b|\blike\b|\bin\s*\()", re.I), "an SQL condition"),
)
_PII = re.compile(
    r"\be-?mails\b|\be-?mail\s+address(?:es)?\b"
    r"|\b(?:the|their|his|her|with|get|give|list|show|export|send|include|including|plus|me|and)\s+"
    r"e-?mails?\b(?!\s+marketing)"
    r"|\b(?:tele)?phones?\b|\b(?:mobile|cell)\s+(?:numbers?|phones?)\b"
    r"|\baddress(?:es)?\b|\bstreets?\b|\bzip\s*codes?\b|\bpost(?:al)?\s*codes?\b"
    r"|\bnames\b|\b(?:first|last|full|their|real|customer'?s?)\s+names?\b|\bname\s+of\b"
    r"|\bcontact\s+(?:details|info|information|data)\b|\bbirthdays?\b|\bdate\s+of\s+birth\b"
    r"|\bip\s+address|\bpasswords?\b|\bcredit\s+cards?\b|\bcard\s+numbers?\b|\bssn\b",
    re.I,
)

UNDERSTOOD_FORMS = (
    'recency: "haven\'t ordered in 90 days", "no purchase in 3 months", "lapsed for 6 months", '
    '"ordered in the last 30 days"',
    'order count: "bought more than 3 times", "at least 2 orders", "one-time buyers", "repeat customers", '
    '"never ordered"',
    'spend: "spent over $200", "spent less than 50", "lifetime value above $1,000"',
    'location: "in Texas", "in Ontario", "in Canada", "in London"',
    'acquisition channel: "came from paid social", "acquired through email", "from organic search"',
    'category: "bought skincare", "purchased from the Outerwear category"',
    'churn: "high churn risk", "likely to churn", "low churn risk"',
    'predicted LTV: "high predicted LTV", "top 10% predicted LTV", "top decile", "predicted LTV over $300"',
    'consent: "who accept marketing", "opted out of marketing"',
)


def screen_request(text: str) -> None:
    """Refuse SQL-bearing text and requests for contact details, before any parsing or LLM call."""
    for pattern, what in _INJECTION:
        match = pattern.search(text)
        if match:
            raise SegmentRequestRefused(
                f"the request contains {what} ({match.group(0).strip()!r}): it looks like an SQL injection "
                "attempt. Describe the customers in words; the SQL is written for you."
            )
    match = _PII.search(text)
    if match:
        raise SegmentRequestRefused(
            f"the request asks for contact details ({match.group(0).strip()!r}). A segment is a list of "
            "customer ids; emails, phone numbers, names and addresses never leave the warehouse this way "
            "(destinations match customers through their own connectors)."
        )


# -- the parser -------------------------------------------------------------------------------------
@dataclass
class _Text:
    """The request with recognized spans blanked out, so each phrase feeds one filter and what is left
    over can be reported."""

    original: str
    rest: str

    def take(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        found = list(pattern.finditer(self.rest))
        for m in found:
            self.rest = self.rest[: m.start()] + " " * (m.end() - m.start()) + self.rest[m.end() :]
        return found


def _number(raw: str | None, default: int = 1) -> int:
    if not raw:
        return default
    raw = raw.lower().replace(",", "")
    return NUMBER_WORDS[raw] if raw in NUMBER_WORDS else int(float(raw))


def _money(m: re.Match[str]) -> int | float:
    value = float(m.group("amount").replace(",", "")) * (1000 if m.group("k") else 1)
    return int(value) if value.is_integer() else value


def _days(m: re.Match[str]) -> int:
    return _number(m.group("n")) * UNIT_DAYS[m.group("unit").lower()]


def _cmp(raw: str | None, default: str) -> str:
    return COMPARATORS[" ".join(raw.lower().split())] if raw else default


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_NEG = r"(?:haven't|have\s+not|hasn't|has\s+not|didn't|did\s+not|not|no|without(?:\s+an?|\s+any)?|zero)"
_RECENCY_NOT = _rx(
    rf"\b{_NEG}\s+(?:ordered|purchased|bought|shopped|been\s+back|orders?|purchases?)"
    rf"(?:\s+(?:anything|again))?\s+(?:in|for|within|during|over)\s+(?:the\s+)?(?:(?:last|past)\s+)?{_DUR}"
)
_RECENCY_LAPSED = _rx(
    rf"\b(?:lapsed|inactive|dormant|gone\s+quiet)\s+(?:for\s+)?(?:(?:over|more\s+than|at\s+least)\s+)?{_DUR}"
)
_RECENCY_AGO = _rx(
    rf"\blast\s+(?:ordered|purchased|bought|order|purchase)\s+(?:was\s+)?(?P<cmp>more\s+than|over|at\s+least|"
    rf"less\s+than|within)\s+{_DUR}(?:\s+ago)?"
)
_RECENCY_ACTIVE = _rx(
    rf"\b(?:{_ORDER_VERB}|active)(?:\s+(?:something|anything))?\s+(?:in|within|during|over)\s+(?:the\s+)?"
    rf"(?:last|past)\s+{_DUR}"
)
_FREQ_TIMES = _rx(
    rf"\b{_ORDER_VERB}\s+(?:from\s+us\s+)?(?:(?P<cmp>{_CMP})\s+)?(?:(?P<n>{_NUM})\s+times?\b|(?P<w>once|twice)\b)"
    r"(?:\s+(?P<tail>or\s+more|or\s+fewer|or\s+less))?"
)
_FREQ_ORDERS = _rx(
    rf"\b(?:(?:with|placed|made|have|has)\s+)?(?:(?P<cmp>{_CMP})\s+)?(?P<n>{_NUM})\s*(?P<plus>\+)?\s+"
    r"(?:(?P<tail>or\s+more|or\s+fewer|or\s+less)\s+)?(?:orders?|purchases?)\b(?:\s+(?P<tail2>or\s+more|or\s+fewer|or\s+less))?"
)
_FREQ_ONE = _rx(
    rf"\b(?:one|single|first)[- ](?:time|purchase|order)\s+{_WHO}|\bonly\s+(?:{_ORDER_VERB}\s+)?once\b"
)
_FREQ_REPEAT = _rx(rf"\b(?:repeat|returning)\s+{_WHO}")
_FREQ_NONE = _rx(
    r"\bnever\s+(?:ordered|purchased|bought)(?:\s+anything)?\b|\b(?:with\s+)?no\s+orders(?:\s+yet)?\b"
    r"|\bwithout\s+(?:any\s+)?orders\b|\b(?:haven't|have\s+not)\s+(?:ordered|purchased|bought)\s+(?:anything\s+)?yet\b"
)
_SPEND_NOUN = (
    r"(?:spent|spend|spends|spending|total\s+spend|lifetime\s+(?:value|spend|revenue)|historical\s+(?:value|spend)"
    r"|ltv|clv|net\s+revenue|revenue)"
)
_SPEND = _rx(rf"\b{_SPEND_NOUN}\s+(?:of\s+|is\s+|was\s+)?(?P<cmp>{_CMP})\s+{_MONEY}")
_SPEND_TAIL = _rx(rf"\b{_SPEND_NOUN}\s+{_MONEY}\s*(?P<tail>or\s+more|or\s+less|\+)")
_LTV_NOUN = r"(?:predicted|future|expected)\s+(?:ltv|lifetime\s+value|clv|customer\s+lifetime\s+value|value)"
_LTV_PERCENT = _rx(
    rf"\b(?P<dir>top|highest|bottom|lowest)\s+(?P<p>\d{{1,2}})\s*(?:%|percent)(?:\s+(?:of|by|in|for))?"
    rf"(?:\s+(?:{_LTV_NOUN}|ltv|lifetime\s+value|value))?(?:\s+{_WHO})?"
)
_LTV_QUANTILE = _rx(
    rf"\b(?P<dir>top|bottom)\s+(?P<q>decile|quintile|quartile|half)\b"
    rf"(?:\s+(?:(?:of|by|in|for)\s+)?(?:{_LTV_NOUN}|ltv|value))?(?:\s+{_WHO})?"
)
_LTV_HIGH = _rx(rf"\b(?P<dir>high|highest|top|low|lowest)[- ]{_LTV_NOUN}")
_LTV_AMOUNT = _rx(rf"\b{_LTV_NOUN}\s+(?:of\s+|is\s+)?(?P<cmp>{_CMP})\s+{_MONEY}")
_CHURN = _rx(
    r"\b(?:(?:with|at|a)\s+)?(?P<band>high|medium|moderate|low)(?:est)?[- ](?:churn(?:[- ]risk|\s+probability)?|risk\s+of\s+churn(?:ing)?)"
    r"|\bchurn\s+risk\s+(?:is\s+)?(?P<band2>high|medium|low)\b"
)
_CHURN_UNLIKELY = _rx(r"\b(?:unlikely|not\s+likely)\s+to\s+churn\b")
_CHURN_LIKELY = _rx(r"\b(?:(?:most\s+)?likely|about|going)\s+to\s+churn\b|\bat\s+risk\s+of\s+churn(?:ing)?\b")
_MARKETING_NO = _rx(
    r"\b(?:who\s+)?(?:don't|do\s+not|doesn't|does\s+not|didn't|did\s+not)\s+(?:accept|allow|want)\s+(?:email\s+)?marketing\b"
    r"|\bopted[- ]out(?:\s+of\s+(?:email\s+)?marketing)?\b|\bunsubscribed\b|\b(?:no|without)\s+marketing\s+consent\b"
)
_MARKETING_YES = _rx(
    r"\b(?:who\s+)?(?:accepts?|accepted|allows?|allowed|gave|given)\s+(?:email\s+)?marketing(?:\s+consent)?\b"
    r"|\bopted[- ]in(?:\s+to\s+(?:email\s+)?marketing)?\b|\bsubscribed\s+to\s+(?:email\s+)?marketing\b"
    r"|\bmarketing[- ](?:consent|allowed|opt[- ]in)\b|\bcan\s+be\s+marketed\s+to\b|\bmarketable\b"
    r"|\bconsented\s+to\s+(?:email\s+)?marketing\b"
)
_CH = _alternation(CHANNEL_WORDS)
_CHANNEL = _rx(
    r"\b(?:(?:came|come|coming|arrived)\s+(?:in\s+)?|(?:were\s+|was\s+|first\s+)?acquired\s+|found\s+us\s+|signed\s+up\s+)?"
    rf"(?:from|through|via|by|on)\s+(?:the\s+|an?\s+)?(?P<ch>{_CH})(?:\s+(?:channel|ads?|campaigns?|traffic))?\b"
    rf"|\b(?:acquisition|first[- ]touch)\s+channel\s+(?:is\s+|=\s*|of\s+)?(?P<ch2>{_CH})\b"
    rf"|\b(?P<ch3>{_CH})[- ](?:acquired|{_WHO})\b"
)
_PLACES = {**US_STATES, **CA_PROVINCES, **COUNTRIES}
_PLACE_PREP = r"(?:in|from|based\s+in|located\s+in|living\s+in|who\s+live\s+in|that\s+live\s+in|who\s+are\s+in|lives\s+in)"
_LOCATION = _rx(
    rf"\b{_PLACE_PREP}\s+(?:the\s+)?(?:state\s+of\s+|province\s+of\s+)?(?P<place>{_alternation(_PLACES)})"
    r"(?![\w.])(?!\s+city\b)"
)
_CITY_ALIAS = _rx(rf"\b{_PLACE_PREP}\s+(?P<alias>{_alternation(CITY_ALIASES)})\b")
_CITY_NAMED = _rx(rf"\b{_PLACE_PREP}\s+(?:the\s+)?city\s+of\s+(?P<city>[\w.'-]+(?:\s+[\w.'-]+){{0,2}})")
# a city is a capitalized name after "in"/"from" that is no state or country: "in London"
_CITY = re.compile(rf"(?i:\b{_PLACE_PREP})\s+(?P<city>[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){{0,2}})")
_CATEGORY_NAMED = _rx(
    r"\b(?:(?:bought|purchased|ordered|shopped|buy|buys)\s+)?(?:from\s+|in\s+)?(?:the\s+|our\s+)?"
    r"(?:products?\s+(?:in|from)\s+(?:the\s+)?)?(?P<cat>[\w&'-]+(?:\s+[\w&'-]+){0,2}?)\s+(?:category|categories)\b"
)
_CATEGORY_GOODS = _rx(
    r"\b(?:bought|purchased|ordered|shopped)\s+(?:some\s+|any\s+)?(?P<cat>[\w&'-]+(?:\s+[\w&'-]+){0,2}?)\s+"
    r"(?:products?|items?|goods)\b"
)
_CATEGORY_WORD = _rx(
    r"\b(?:bought|purchased|ordered|shopped(?:\s+for)?)\s+(?:some\s+|any\s+)?(?P<cat>[a-z][\w&'-]*)\b"
)
_NOT_CATEGORIES = {
    "something", "anything", "more", "less", "at", "in", "from", "the", "once", "twice", "again", "only",
    "recently", "before", "online", "over", "under", "within", "for", "during", "exactly", "fewer",
    "products", "items", "a", "an",
}  # fmt: skip
# words that carry no condition: what may be left over once the filters are recognized
_FILLER = """customers customer who that which whose and with have has had the a an all any of people shoppers
    buyers buyer users clients members folks ones everyone everybody those them they are is were was been be
    also plus both our us me give show find list get segment audience please i we want need build make
    create in on at for by from to just only currently still but yet"""
FILLER = set(_FILLER.split())


def _category_value(raw: str, categories: list[str] | None) -> tuple[str, str]:
    """(value, field): the catalog's spelling when categories are known ('exact'), else as typed ('ci')."""
    word = " ".join(raw.split())
    if categories is None:
        return word, "ci"
    wanted = word.lower()
    for category in categories:
        c = category.lower()
        if wanted in (c, c.rstrip("s"), c + "s", c + "es") or wanted.rstrip("s") == c.rstrip("s"):
            return category, "exact"
    raise SegmentRequestRefused(
        f"there is no product category {word!r}; the categories are: {', '.join(sorted(categories))}"
    )


def parse_question(text: str, categories: list[str] | None = None) -> SegmentSpec:
    """The filters a request states, or `SegmentRequestRefused`.

    `categories` are the values of marts.dim_products.category (given when a warehouse is at hand): a
    category in the request must be one of them; without them the word is taken as typed and matched
    case-insensitively."""
    text = " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())
    screen_request(text)
    t = _Text(text, text)
    found: list[tuple[int, Filter]] = []

    def add(m: re.Match[str], f: Filter) -> None:
        found.append((m.start(), f))

    # order matters: the longer, more specific phrasings claim their words first
    for m in t.take(_RECENCY_NOT) + t.take(_RECENCY_LAPSED):
        add(m, Filter("recency", ">", _days(m)))
    for m in t.take(_RECENCY_AGO):
        add(
            m, Filter("recency", "<=" if m.group("cmp").lower() in ("less than", "within") else ">", _days(m))
        )
    for m in t.take(_RECENCY_ACTIVE):
        add(m, Filter("recency", "<=", _days(m)))
    for m in t.take(_FREQ_NONE):
        add(m, Filter("frequency", "=", 0))
    for m in t.take(_FREQ_ONE):
        add(m, Filter("frequency", "=", 1))
    for m in t.take(_FREQ_REPEAT):
        add(m, Filter("frequency", ">=", 2))
    for m in t.take(_FREQ_TIMES):
        tail = (m.group("tail") or "").lower()
        op = ">=" if "more" in tail else "<=" if tail else _cmp(m.group("cmp"), "=")
        add(m, Filter("frequency", op, _number(m.group("n") or m.group("w"))))
    for m in t.take(_LTV_AMOUNT):
        add(m, Filter("predicted_ltv", _cmp(m.group("cmp"), ">"), _money(m)))
    for m in t.take(_SPEND):
        add(m, Filter("spend", _cmp(m.group("cmp"), ">"), _money(m)))
    for m in t.take(_SPEND_TAIL):
        add(m, Filter("spend", "<=" if "less" in m.group("tail").lower() else ">=", _money(m)))
    for m in t.take(_FREQ_ORDERS):
        tail = " ".join(filter(None, (m.group("tail"), m.group("tail2"), m.group("plus")))).lower()
        op = ">=" if ("more" in tail or "+" in tail) else "<=" if tail else _cmp(m.group("cmp"), "=")
        add(m, Filter("frequency", op, _number(m.group("n"))))
    for m in t.take(_LTV_PERCENT):
        direction = "top" if m.group("dir").lower() in ("top", "highest") else "bottom"
        add(m, Filter("ltv_band", direction, int(m.group("p"))))
    for m in t.take(_LTV_QUANTILE):
        add(m, Filter("ltv_band", m.group("dir").lower(), QUANTILES[m.group("q").lower()]))
    for m in t.take(_LTV_HIGH):
        direction = "top" if m.group("dir").lower() in ("top", "high", "highest") else "bottom"
        add(m, Filter("ltv_band", direction, HIGH_LTV_PERCENT))
    for m in t.take(_CHURN):
        band = (m.group("band") or m.group("band2")).lower()
        add(m, Filter("churn_band", "=", "medium" if band == "moderate" else band))
    for m in t.take(_CHURN_UNLIKELY):
        add(m, Filter("churn_band", "=", "low"))
    for m in t.take(_CHURN_LIKELY):
        add(m, Filter("churn_band", "=", "high"))
    for m in t.take(_MARKETING_NO):
        add(m, Filter("marketing", "=", False))
    for m in t.take(_MARKETING_YES):
        add(m, Filter("marketing", "=", True))
    for m in t.take(_CHANNEL):
        word = (m.group("ch") or m.group("ch2") or m.group("ch3")).lower()
        add(m, Filter("channel", "=", CHANNEL_WORDS[word]))
    for m in t.take(_CITY_ALIAS):
        add(m, Filter("location", "=", CITY_ALIASES[m.group("alias").lower()], "city"))
    for m in t.take(_CITY_NAMED):
        add(m, Filter("location", "=", m.group("city").title(), "city"))
    for m in t.take(_LOCATION):
        place = m.group("place").lower()
        if place in COUNTRIES:
            add(m, Filter("location", "=", COUNTRIES[place], "country_code"))
        else:
            add(m, Filter("location", "=", US_STATES.get(place) or CA_PROVINCES[place], "province_code"))
    for m in t.take(_CITY):
        add(m, Filter("location", "=", m.group("city"), "city"))
    for pattern in (_CATEGORY_NAMED, _CATEGORY_GOODS, _CATEGORY_WORD):
        for m in t.take(pattern):
            if m.group("cat").lower() in _NOT_CATEGORIES:
                continue
            value, how = _category_value(m.group("cat"), categories)
            add(m, Filter("category", "=", value, how))

    filters = tuple(f for _, f in sorted(found, key=lambda pair: pair[0]))
    leftover = [w for w in re.findall(r"[\w'$%.-]+", t.rest) if w.lower().strip(".") not in FILLER]
    if not filters:
        raise SegmentRequestRefused(
            "no condition recognized in this request. Understood forms: " + "; ".join(UNDERSTOOD_FORMS)
        )
    if leftover:
        raise SegmentRequestRefused(
            f"understood {', '.join(describe(f) for f in filters)}, but not {' '.join(leftover)!r}: rephrase "
            "or drop those words (a segment must not silently ignore part of a request). Understood forms: "
            + "; ".join(UNDERSTOOD_FORMS)
        )
    kinds = [f.kind for f in filters if f.kind not in ("category",)]
    clash = sorted(
        {k for k in kinds if kinds.count(k) > 1 and k in ("location", "channel", "churn_band", "marketing")}
    )
    if clash:
        raise SegmentRequestRefused(
            f"the request gives more than one {clash[0].replace('_', ' ')}; filters combine with AND, so "
            "no customer could match both. Ask for one segment per value."
        )
    return SegmentSpec(filters)


# -- descriptions ----------------------------------------------------------------------------------
_OP_WORDS = {">": "more than", ">=": "at least", "<": "less than", "<=": "at most", "=": "exactly"}


def _days_phrase(days: int) -> str:
    return f"{days} day" + ("s" if days != 1 else "")


def describe(f: Filter) -> str:
    """A filter in words, for the label, the description and refusals."""
    if f.kind == "recency":
        days = _days_phrase(f.value)
        return f"no order in the last {days}" if f.op == ">" else f"ordered in the last {days}"
    if f.kind == "frequency":
        if f.value == 0 and f.op == "=":
            return "no orders"
        return f"{_OP_WORDS[f.op]} {f.value} order" + ("s" if f.value != 1 else "")
    if f.kind == "spend":
        return f"spent {_OP_WORDS[f.op]} {f.value:,}"
    if f.kind == "predicted_ltv":
        return f"predicted LTV {_OP_WORDS[f.op]} {f.value:,}"
    if f.kind == "location":
        if f.field == "city":
            return f"in {f.value}"
        name = _PLACE_NAMES.get((f.field or "", f.value), f.value)
        return f"in {name} ({f.value})"
    if f.kind == "channel":
        return f"acquired through {f.value}"
    if f.kind == "category":
        return f"bought {f.value}"
    if f.kind == "churn_band":
        return f"{f.value} churn risk"
    if f.kind == "ltv_band":
        return f"{f.op} {f.value}% by predicted LTV"
    if f.kind == "marketing":
        return "accept marketing" if f.value else "do not accept marketing"
    raise ValueError(f"unknown filter kind {f.kind!r}")
