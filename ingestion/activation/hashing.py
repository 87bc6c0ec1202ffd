"""Meta's normalization and SHA-256 hashing of customer-list match keys (EMAIL, PHONE).

Why normalize before hashing: Meta matches an uploaded hash against the hashes of its users' own
normalized keys, so `" John_Smith@gmail.com "` and `"john_smith@gmail.com"` must hash alike, and a phone
must be the E.164 digits with its country code and nothing else (Meta Marketing API, "Customer List
Custom Audiences", "Hashing and normalization"). A key that cannot be normalized is left out (None)
rather than hashed as is: a hash of a malformed value never matches and only counts as an invalid entry.

The same functions serve the connector (what we upload) and the emulator (which users Meta knows), so
the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import re

NON_DIGITS = re.compile(r"\D")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MIN_PHONE_DIGITS = 7  # shorter than any national number with an area code
MAX_PHONE_DIGITS = 15  # E.164: country code + national number


def normalize_email(value: str | None) -> str | None:
    """Trimmed and lowercased; None when empty or not `local@domain` (exactly one "@", text on both sides)."""
    if value is None:
        return None
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain:
        return None
    return email


def normalize_phone(value: str | None, default_country_code: str = "1") -> str | None:
    """E.164 digits without "+": symbols dropped, an international `00` prefix removed, and the default
    country code added to a national number. None when fewer than 7 digits or longer than E.164 allows.

    A number is international when it starts with "+" or "00" and then keeps its own country code. For
    the default "1" (NANP) a national number is 10 digits, and 11 digits starting with 1 already carry it;
    for other defaults a national number drops its trunk prefix "0" and gets the country code unless it
    already starts with it (an ambiguity Meta's rule shares: always store phones with a country code)."""
    if value is None:
        return None
    raw = value.strip()
    digits = NON_DIGITS.sub("", raw)
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    if raw.startswith("+") or digits.startswith("00"):  # international: its own country code
        number = digits.lstrip("0")
    elif default_country_code == "1":
        number = "1" + digits if len(digits) == 10 else digits
    elif digits.startswith("0"):
        number = default_country_code + digits.lstrip("0")
    elif digits.startswith(default_country_code):
        number = digits
    else:
        number = default_country_code + digits
    if not MIN_PHONE_DIGITS <= len(number) <= MAX_PHONE_DIGITS:
        return None
    return number


def sha256_hex(normalized: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes: the form Meta expects for EMAIL and PHONE."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def is_sha256_hex(value: object) -> bool:
    """True for 64 lowercase hex characters (what a hashed key looks like; a plain email never does)."""
    return isinstance(value, str) and SHA256_HEX.fullmatch(value) is not None


def match_row(
    email: str | None, phone: str | None, default_country_code: str = "1"
) -> tuple[str | None, str | None]:
    """(hashed EMAIL, hashed PHONE) of one person, in `SCHEMA` order; None where a key is missing or unusable."""
    normalized_email = normalize_email(email)
    normalized_phone = normalize_phone(phone, default_country_code)
    return (
        sha256_hex(normalized_email) if normalized_email else None,
        sha256_hex(normalized_phone) if normalized_phone else None,
    )
