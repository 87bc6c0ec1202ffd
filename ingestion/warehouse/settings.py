"""Which warehouse the project talks to, and as whom.

`WAREHOUSE_URL` set -> that server, never the embedded one. Otherwise the embedded server on
127.0.0.1:`WAREHOUSE_PORT` (default 55432) with data under `.local/warehouse/`.
Per-role URLs: on the embedded server every role logs in with trust auth on loopback, so the role
URL is the admin URL with another user name; elsewhere `WAREHOUSE_<ROLE>_URL` may be set per role,
and falls back to `WAREHOUSE_URL`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from ingestion.warehouse.paths import local_dir

DEFAULT_PORT = 55432
DEFAULT_DATABASE = "journey"
ADMIN_USER = "postgres"

ROLE_USERS = {
    "admin": ADMIN_USER,
    "loader": "journey_loader",
    "transformer": "journey_transformer",
    "reporter": "reporter",
}


@dataclass(frozen=True)
class WarehouseSettings:
    """Resolved connection settings; build with `WarehouseSettings.from_env()`."""

    url: str | None = None  # external server (WAREHOUSE_URL); None means embedded
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=lambda: local_dir() / "warehouse")
    database: str = DEFAULT_DATABASE

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> WarehouseSettings:
        env = dict(os.environ if env is None else env)
        url = env.get("WAREHOUSE_URL") or None
        port = int(env.get("WAREHOUSE_PORT", DEFAULT_PORT))
        data_dir = (
            Path(env["WAREHOUSE_DATA_DIR"]) if env.get("WAREHOUSE_DATA_DIR") else local_dir() / "warehouse"
        )
        return cls(url=url, port=port, data_dir=data_dir.resolve())

    @property
    def embedded(self) -> bool:
        return self.url is None

    def role_url(self, role: str = "admin") -> str:
        """Connection URL for one of the contract's roles (admin, loader, transformer, reporter)."""
        if role not in ROLE_USERS:
            raise ValueError(f"unknown warehouse role {role!r}; expected one of {sorted(ROLE_USERS)}")
        if self.url is None:
            return f"postgresql://{ROLE_USERS[role]}@127.0.0.1:{self.port}/{self.database}"
        if role == "admin":
            return self.url
        return os.environ.get(f"WAREHOUSE_{role.upper()}_URL") or self.url

    def parts(self, role: str = "admin") -> dict[str, str | int | None]:
        """host/port/user/password/database of a role URL (for dbt profiles and dlt credentials)."""
        u = urlsplit(self.role_url(role))
        return {
            "host": u.hostname or "127.0.0.1",
            "port": u.port or 5432,
            "user": u.username,
            "password": u.password,
            "database": (u.path or "/").lstrip("/") or DEFAULT_DATABASE,
        }

    def redacted(self, role: str = "admin") -> str:
        """The role URL with any password masked, for logs and CLI output."""
        u = urlsplit(self.role_url(role))
        if u.password is None:
            return self.role_url(role)
        netloc = f"{u.username}:***@{u.hostname}" + (f":{u.port}" if u.port else "")
        return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))


def connect(role: str = "admin", settings: WarehouseSettings | None = None, **kwargs) -> psycopg.Connection:
    """Open a psycopg connection to the warehouse as `role`."""
    settings = settings or WarehouseSettings.from_env()
    return psycopg.connect(settings.role_url(role), **kwargs)


def dbt_env(settings: WarehouseSettings | None = None, role: str = "transformer") -> dict[str, str]:
    """Environment variables that point dbt's profiles.yml at the warehouse as `role`."""
    p = (settings or WarehouseSettings.from_env()).parts(role)
    return {
        "DBT_PG_HOST": str(p["host"]),
        "DBT_PG_PORT": str(p["port"]),
        "DBT_PG_USER": str(p["user"]),
        "DBT_PG_PASSWORD": str(p["password"] or ""),
        "DBT_PG_DATABASE": str(p["database"]),
    }
