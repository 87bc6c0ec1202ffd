"""Role passwords: generated once for the embedded server, kept owner-only, set on the server as SCRAM.

Why a file beside the data dir, not inside it: moving a damaged data dir away (the fix
`journey warehouse up` suggests) must not lose the passwords other tools were given (Metabase holds the
reporter's), and in root mode the data dir belongs to the server's system user while the passwords
belong to whoever runs the project. The file is `<data dir>-secrets/passwords.json` (default
`.local/warehouse-secrets/passwords.json`), directory 0700, file 0600, written atomically and never
overwritten by a concurrent `up` (the first writer wins, everyone else reads its file).

Why compare SCRAM verifiers before `alter role`: every Dagster step runs `init_warehouse`; rewriting
the same role's password from several processes at once fails with "tuple concurrently updated", and a
steady-state run should write nothing to the catalog. The password itself never reaches the server:
libpq computes the verifier client-side (`PQencryptPasswordConn`), so no server log can hold it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

import psycopg
from psycopg import sql

from ingestion.warehouse.errors import WarehouseError

ROLE_KEYS = ("admin", "loader", "transformer", "reporter")


def secrets_file(data_dir: Path) -> Path:
    """Where the embedded server's role passwords live: `<data dir>-secrets/passwords.json`."""
    return data_dir.with_name(data_dir.name + "-secrets") / "passwords.json"


def read_passwords(data_dir: Path) -> dict[str, str]:
    """The stored passwords ({} before the first `up`)."""
    path = secrets_file(data_dir)
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WarehouseError(
            f"{path} is not valid JSON ({exc}); delete it and run `journey warehouse up`, which generates "
            f"new role passwords and sets them on the server (then re-run `journey dashboards apply`)"
        ) from exc
    if not isinstance(stored, dict):
        raise WarehouseError(f"{path} should hold an object of role -> password; delete it and run `up`")
    return {str(k): str(v) for k, v in stored.items()}


def ensure_passwords(data_dir: Path) -> dict[str, str]:
    """Read the stored passwords, generating the missing ones (first `up`, or a role added later)."""
    path = secrets_file(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    current = read_passwords(data_dir)
    if path.exists():
        path.chmod(0o600)
    missing = [key for key in ROLE_KEYS if not current.get(key)]
    if not missing:
        return current
    wanted = {**current, **{key: secrets.token_urlsafe(24) for key in missing}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(wanted, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        if current:
            os.replace(tmp, path)  # adding a role: the existing ones keep their values
            return wanted
        try:
            os.link(tmp, path)  # no-clobber: a concurrent first `up` may have written its own
        except FileExistsError:
            return read_passwords(data_dir)
        return wanted
    finally:
        tmp.unlink(missing_ok=True)


def scram_matches(verifier: str | None, password: str) -> bool:
    """Does a `pg_authid.rolpassword` SCRAM-SHA-256 verifier belong to `password`? (RFC 5802/7677)"""
    if not verifier or not verifier.startswith("SCRAM-SHA-256$"):
        return False
    try:
        params, keys = verifier.removeprefix("SCRAM-SHA-256$").split("$")
        iterations, salt = params.split(":")
        stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key) and hmac.compare_digest(
        hmac.digest(salted, b"Server Key", "sha256"), server_key
    )


def ensure_login_password(conn: psycopg.Connection, user: str, password: str) -> bool:
    """Give `user` this password unless it already has it; True when it was changed.

    `conn` is an autocommit connection of a role that may alter `user`. Without the right to read
    `pg_authid` (managed Postgres: the admin is not a superuser) the password is set every time.
    """
    try:
        row = conn.execute("select rolpassword from pg_authid where rolname = %s", (user,)).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        row = None
    if row is not None and scram_matches(row[0], password):
        return False
    verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256").decode()
    conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(user), sql.Literal(verifier)))
    return True
