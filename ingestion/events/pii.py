"""Emails and phones in event traits/properties, hashed before they reach the warehouse: Python and SQL twins.

Why here, side by side: the collector hashes in Python (`hash_event_pii`, from `landing.enrich`) so its
landing files never hold a raw address; the loader applies the SQL twin (`sql_hash_pii_object`) in its
insert so files landed by other writers are covered too. Both must produce exactly the value dbt's
`hash_pii` macro computes (dbt_project/macros/hash_pii.sql, ingestion/warehouse/pii.py), so identify
traits join the customers' hashed emails:

    encode(sha256(convert_to(salt || normalised, 'UTF8')), 'hex')

- email normalised as `nullif(lower(trim(v)), '')`: `trim` drops spaces only (not tabs or newlines), and
  `lower` in the warehouse's C locale (initdb `--locale=C`) lowercases ASCII letters only, so Python does
  the same (the SQL twin says `collate "C"` to keep that on a warehouse with another locale);
- phone normalised as `nullif(regexp_replace(v, '[^0-9+]', '', 'g'), '')`: ASCII digits and `+` kept;
- an empty normalised value hashes to null, like the macro.

The rule, applied to `properties`, `traits` and `context.traits` (objects only): a key `email` or `phone`
is removed and `email_sha256` / `phone_sha256` is set to the hash of its value when that is a string,
else to null (a number or object is not an address we can normalise the way dbt does, and it must not
stay raw either). Only top-level keys of those objects are rewritten: those are Segment's reserved traits.
The salt is `PII_HASH_SALT` (`ingestion.warehouse.pii.pii_salt`); SQL gets it as a bind parameter only.
"""

from __future__ import annotations

import hashlib
import re
import string
from typing import Any

PII_KEYS = ("email", "phone")
HASH_SUFFIX = "_sha256"
SALT_PARAM = "pii_salt"  # the loader's bind parameter: %(pii_salt)s

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_NOT_PHONE = re.compile(r"[^0-9+]")


def normalise(kind: str, value: str) -> str | None:
    """The macro's normalisation of an email (`kind="email"`) or phone (`kind="phone"`); None if empty."""
    cleaned = _NOT_PHONE.sub("", value) if kind == "phone" else value.strip(" ").translate(_ASCII_LOWER)
    return cleaned or None


def hash_pii(value: str | None, salt: str, kind: str = "email") -> str | None:
    """dbt's `hash_pii(value, kind)`: hex sha256 of salt || normalised value; None stays None."""
    normalised = None if value is None else normalise(kind, value)
    if normalised is None:
        return None
    return hashlib.sha256((salt + normalised).encode("utf-8")).hexdigest()


def hash_object_pii(obj: dict[str, Any], salt: str) -> bool:
    """Replace `email` / `phone` of one traits/properties object by their hashes (in place).

    Returns whether anything was replaced."""
    changed = False
    for kind in PII_KEYS:
        if kind in obj:
            value = obj.pop(kind)
            obj[kind + HASH_SUFFIX] = hash_pii(value, salt, kind) if isinstance(value, str) else None
            changed = True
    return changed


def hash_event_pii(event: dict[str, Any], salt: str) -> dict[str, Any]:
    """Hash emails and phones of an event's `properties`, `traits` and `context.traits` (in place)."""
    for holder, key in ((event, "properties"), (event, "traits"), (event.get("context"), "traits")):
        if isinstance(holder, dict) and isinstance(holder.get(key), dict):
            hash_object_pii(holder[key], salt)
    return event


# -- the SQL twin ------------------------------------------------------------------------------------
_SQL_NORMALISED = {
    "email": "nullif(lower(trim({v}) collate \"C\"), '')",
    "phone": "nullif(regexp_replace({v}, '[^0-9+]', '', 'g'), '')",
}
_KEYS_ARRAY = "array[" + ", ".join(f"'{k}'" for k in PII_KEYS) + "]"


def _sql_hash(obj: str, kind: str, salt: str) -> str:
    value = f"({obj} ->> '{kind}')"
    normalised = _SQL_NORMALISED[kind].format(v=value)
    return (
        f"case when jsonb_typeof({obj} -> '{kind}') = 'string' "
        f"then encode(sha256(convert_to({salt} || {normalised}, 'UTF8')), 'hex') end"
    )


def sql_hash_pii_object(obj: str, salt: str = f"%({SALT_PARAM})s") -> str:
    """SQL of `hash_object_pii` for the jsonb expression `obj` (evaluated several times: pass a column).

    Cheap for rows without such a key: they only pay the `?|` test (a key lookup in the jsonb)."""
    added = " || ".join(
        f"case when {obj} ? '{kind}' then jsonb_build_object('{kind}{HASH_SUFFIX}', "
        f"{_sql_hash(obj, kind, salt)}) else '{{}}'::jsonb end"
        for kind in PII_KEYS
    )
    return f"case when {obj} ?| {_KEYS_ARRAY} then ({obj} - {_KEYS_ARRAY}) || {added} else {obj} end"


def sql_hash_context_traits(context: str, salt: str = f"%({SALT_PARAM})s") -> str:
    """SQL of the `context.traits` part of `hash_event_pii` for the jsonb column `context`."""
    traits = f"({context} -> 'traits')"
    return (
        f"case when jsonb_typeof({traits}) = 'object' and {traits} ?| {_KEYS_ARRAY} "
        f"then jsonb_set({context}, array['traits'], {sql_hash_pii_object(traits, salt)}) "
        f"else {context} end"
    )
