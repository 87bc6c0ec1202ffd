"""The simulated shop's Meta account as the Marketing API would report it on a given date.

The world stores *final* numbers (`meta_insights_daily`); what the API shows for a day depends on when
you ask (`as_of`): conversions are scaled by `restatement_fraction`, delivery (spend, impressions,
clicks, reach) is final at once. Objects and days after `as_of` do not exist yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ingestion.sandbox.emulators.meta_restatement import restatement_fraction

DEFAULT_ACCOUNT_ID = "1029384756"
CLICK_SHARE = 0.8  # share of an action attributed to the 7-day click window (rest: 1-day view)

OBJECT_FIELDS: dict[str, set[str]] = {
    "campaigns": {
        "id", "account_id", "name", "objective", "status", "effective_status", "daily_budget",
        "created_time", "updated_time", "start_time",
    },
    "adsets": {
        "id", "account_id", "campaign_id", "name", "status", "effective_status", "created_time",
        "updated_time", "targeting",
    },
    "ads": {
        "id", "account_id", "campaign_id", "adset_id", "name", "status", "effective_status",
        "created_time", "updated_time", "creative",
    },
}  # fmt: skip
NODE_TYPES = {"campaigns": "Campaign", "adsets": "AdSet", "ads": "Ad"}
# the values each edge's `effective_status` takes (facebook_business 26.x Campaign/AdSet/Ad.EffectiveStatus)
EFFECTIVE_STATUSES: dict[str, frozenset[str]] = {
    "campaigns": frozenset({"ACTIVE", "ARCHIVED", "DELETED", "IN_PROCESS", "PAUSED", "WITH_ISSUES"}),
    "adsets": frozenset({"ACTIVE", "ARCHIVED", "CAMPAIGN_PAUSED", "DELETED", "IN_PROCESS", "PAUSED", "WITH_ISSUES"}),
    "ads": frozenset({
        "ACTIVE", "ADSET_PAUSED", "ARCHIVED", "CAMPAIGN_PAUSED", "DELETED", "DISAPPROVED", "IN_PROCESS", "PAUSED",
        "PENDING_BILLING_INFO", "PENDING_REVIEW", "PREAPPROVED", "WITH_ISSUES",
    }),
}  # fmt: skip
# statuses an edge leaves out unless asked for by `effective_status` (Meta: "we do not return them by default")
HIDDEN_STATUSES = frozenset({"ARCHIVED", "DELETED"})
INSIGHT_FIELDS = {
    "account_id", "account_name", "campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id",
    "ad_name", "date_start", "date_stop", "spend", "impressions", "clicks", "reach", "actions",
    "action_values", "cpc", "cpm", "ctr",
}  # fmt: skip


def read_table(world_dir: Path, name: str) -> pd.DataFrame:
    """A world table, whether written as `<name>.parquet` or as a `<name>/` dataset directory."""
    for candidate in (world_dir / f"{name}.parquet", world_dir / name):
        if candidate.exists():
            return pd.read_parquet(candidate)
    raise FileNotFoundError(f"simulated shop table {name!r} not found under {world_dir}")


def world_end_date(world_dir: Path) -> date:
    return date.fromisoformat(json.loads((world_dir / "world.json").read_text())["end_date"][:10])


def meta_time(value: Any) -> str:
    """Graph API timestamp format: `2024-11-01T09:30:00+0000`."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S+0000")


def _money(value: float) -> str:
    return f"{float(value):.2f}"


def _count(value: float) -> str:
    return str(int(round(float(value))))


def _action(action_type: str, value: float, money: bool, windows: list[str]) -> dict[str, str]:
    fmt = _money if money else _count
    item = {"action_type": action_type, "value": fmt(value)}
    if windows:
        click = round(value * CLICK_SHARE, 2) if money else round(value * CLICK_SHARE)
        split = {"7d_click": click, "1d_view": round(value - click, 2) if money else value - click}
        for window in windows:
            if window in split:
                item[window] = fmt(split[window])
    return item


@dataclass
class MetaWorld:
    """Frames of the world plus the reporting date; `as_of` defaults to the world's end date."""

    world_dir: Path
    account_id: str = DEFAULT_ACCOUNT_ID
    as_of: date | None = None
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    _name_cache: dict[str, dict[str, str]] | None = None

    def frame(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = read_table(self.world_dir, name)
        return self._frames[name]

    @property
    def reporting_date(self) -> date:
        return self.as_of or world_end_date(self.world_dir)

    def _visible(self, frame: pd.DataFrame) -> pd.DataFrame:
        created = pd.to_datetime(frame["created_time"], utc=True)
        cutoff = pd.Timestamp(self.reporting_date, tz="UTC")
        return frame[created < cutoff]

    def _status(self, row: dict[str, Any], cutoff: pd.Timestamp) -> str:
        """The status on the reporting date: an object archived or deleted after it was still paused."""
        status = str(row["status"])
        if status in HIDDEN_STATUSES and pd.Timestamp(row["updated_time"]).tz_convert("UTC") >= cutoff:
            return "PAUSED"
        return status

    def objects(self, edge: str) -> list[dict[str, Any]]:
        """All campaigns/adsets/ads that exist on the reporting date (archived and deleted ones too),
        as full Graph API objects; the emulator decides which an edge request may see."""
        frame = self._visible(self.frame(f"meta_{edge}"))
        cutoff = pd.Timestamp(self.reporting_date, tz="UTC")
        out = []
        for row in frame.sort_values("created_time").to_dict("records"):
            updated = min(pd.Timestamp(row["updated_time"]).tz_convert("UTC"), cutoff - timedelta(seconds=1))
            status = self._status(row, cutoff)
            obj: dict[str, Any] = {
                "account_id": self.account_id,
                "name": row["name"],
                "status": status,
                "effective_status": status,
                "created_time": meta_time(row["created_time"]),
                "updated_time": meta_time(updated),
            }
            if edge == "campaigns":
                obj |= {
                    "id": str(row["campaign_id"]),
                    "objective": row["objective"],
                    # the Graph API returns budgets in the account currency's minor units (cents)
                    "daily_budget": str(int(round(float(row["daily_budget"]) * 100))),
                    "start_time": meta_time(row["created_time"]),
                }
            elif edge == "adsets":
                obj |= {
                    "id": str(row["adset_id"]),
                    "campaign_id": str(row["campaign_id"]),
                    "targeting": {"summary": row.get("targeting_summary")},
                }
            else:
                obj |= {
                    "id": str(row["ad_id"]),
                    "adset_id": str(row["adset_id"]),
                    "campaign_id": str(row["campaign_id"]),
                    "creative": {"id": f"9{row['ad_id']}", "url_tags": row.get("url_tags")},
                }
            out.append(obj)
        return out

    def effective_statuses(self) -> dict[str, str]:
        """`effective_status` of every ad on the reporting date, by ad id."""
        return {str(obj["id"]): obj["effective_status"] for obj in self.objects("ads")}

    def campaign_ids(self) -> list[str]:
        """Every campaign of the account on the reporting date, whatever its status."""
        return [str(obj["id"]) for obj in self.objects("campaigns")]

    def insights(
        self,
        since: date,
        until: date,
        fields: list[str],
        windows: list[str],
        where: Callable[[dict[str, str]], bool] | None = None,
    ) -> list[dict]:
        """Ad-level daily rows for [since, until] as reported on the reporting date; `where` gets each
        row's ids (`ad_id`, `adset_id`, `campaign_id`) and keeps the rows it returns True for."""
        as_of = self.reporting_date
        last_day = min(until, as_of - timedelta(days=1))
        if last_day < since:
            return []
        daily = self.frame("meta_insights_daily")
        days = pd.to_datetime(daily["date"]).dt.date
        rows = daily[(days >= since) & (days <= last_day)]
        rows = rows[(rows["impressions"] > 0) | (rows["spend"] > 0)]  # Meta omits days without delivery
        names = self._names()
        out = []
        for row in rows.sort_values(["date", "ad_id"]).to_dict("records"):
            day = pd.Timestamp(row["date"]).date()
            frac = restatement_fraction((as_of - day).days)
            ad_id, adset_id, campaign_id = str(row["ad_id"]), str(row["adset_id"]), str(row["campaign_id"])
            if where is not None and not where(
                {"ad_id": ad_id, "adset_id": adset_id, "campaign_id": campaign_id}
            ):
                continue
            full: dict[str, Any] = {
                "account_id": self.account_id,
                "account_name": "Simulated Shop",
                "campaign_id": campaign_id,
                "campaign_name": names["campaign"].get(campaign_id),
                "adset_id": adset_id,
                "adset_name": names["adset"].get(adset_id),
                "ad_id": ad_id,
                "ad_name": names["ad"].get(ad_id),
                "spend": _money(row["spend"]),
                "impressions": _count(row["impressions"]),
                "clicks": _count(row["clicks"]),
                "reach": _count(row["reach"]),
                "cpc": _money(row["spend"] / row["clicks"]) if row["clicks"] else None,
                "cpm": _money(1000 * row["spend"] / row["impressions"]) if row["impressions"] else None,
                "ctr": f"{100 * row['clicks'] / row['impressions']:.6f}" if row["impressions"] else None,
            }
            purchases = round(float(row["purchases"]) * frac)
            value = round(float(row["purchase_value"]) * frac, 2)
            carts = round(float(row["add_to_carts"]) * frac)
            actions = [
                ("link_click", float(row["clicks"])),
                ("landing_page_view", float(row["landing_page_views"])),
                ("add_to_cart", carts),
                ("offsite_conversion.fb_pixel_add_to_cart", carts),
                ("purchase", purchases),
                ("offsite_conversion.fb_pixel_purchase", purchases),
            ]
            action_list = [_action(t, v, False, windows) for t, v in actions if v > 0]
            values = [("purchase", value), ("offsite_conversion.fb_pixel_purchase", value)]
            value_list = [_action(t, v, True, windows) for t, v in values if v > 0]
            if action_list:  # like Meta: the key is absent when nothing happened
                full["actions"] = action_list
            if value_list:
                full["action_values"] = value_list
            record = {k: full[k] for k in fields if k in full and full[k] is not None}
            record["date_start"] = record["date_stop"] = day.isoformat()
            out.append(record)
        return out

    def _names(self) -> dict[str, dict[str, str]]:
        if self._name_cache is None:
            self._name_cache = {
                kind: dict(zip(frame[f"{kind}_id"].astype(str), frame["name"], strict=True))
                for kind, frame in (
                    ("campaign", self.frame("meta_campaigns")),
                    ("adset", self.frame("meta_adsets")),
                    ("ad", self.frame("meta_ads")),
                )
            }
        return self._name_cache


def parse_day(value: str) -> date:
    return datetime.strptime(value, "%Y-%m-%d").date()
