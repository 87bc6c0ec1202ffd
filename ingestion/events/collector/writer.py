"""Durable, rotating JSONL files: the only place the collector keeps what it accepted.

Why each write is `write + flush + os.fsync` before the HTTP answer: a 2xx tells the browser it may
forget the events, so they must survive a crash of this process or of the machine from then on.
Files are written as `<name>.jsonl.open` under `dt=YYYY-MM-DD/` and renamed to `<name>.jsonl` when
rotated (size, age, new day) or closed, so the loader only ever sees complete files. An `.open` file
left by a crashed collector is recovered at start (its unacknowledged partial last line dropped).
Each open file is held with an exclusive `flock`, so recovery never steals a live collector's file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ingestion.events.landing import CLOSED_SUFFIX, OPEN_SUFFIX

log = logging.getLogger(__name__)


@dataclass
class _OpenFile:
    path: Path
    fh: object
    day: str
    opened: float
    size: int = 0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RotatingJsonlWriter:
    """Append JSON lines durably to day-partitioned files that rotate by size and age. Thread-safe."""

    def __init__(self, directory: Path, prefix: str, max_bytes: int, max_age_s: float) -> None:
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._files: dict[str, _OpenFile] = {}
        self._seq = 0
        self._stem = f"{prefix}-{socket.gethostname()}-{os.getpid()}-{int(time.time() * 1000)}"
        self.directory.mkdir(parents=True, exist_ok=True)

    def write(self, day: str, lines: list[bytes]) -> Path:
        """Append `lines` (each without newline) to the day's file and fsync; returns the file path."""
        payload = b"".join(line + b"\n" for line in lines)
        with self._lock:
            current = self._files.get(day)
            if current is not None and (
                current.size + len(payload) > self.max_bytes
                and current.size > 0
                or time.monotonic() - current.opened > self.max_age_s
            ):
                self._close(day)
                current = None
            if current is None:
                current = self._open(day)
            current.fh.write(payload)
            current.fh.flush()
            os.fsync(current.fh.fileno())
            current.size += len(payload)
            return current.path

    def rotate_expired(self) -> int:
        """Close files older than max_age (or of a past day) so the loader can pick them up."""
        today = time.strftime("%Y-%m-%d", time.gmtime())
        with self._lock:
            expired = [
                d
                for d, f in self._files.items()
                if d != today or time.monotonic() - f.opened > self.max_age_s
            ]
            for day in expired:
                self._close(day)
        return len(expired)

    def close(self) -> None:
        with self._lock:
            for day in list(self._files):
                self._close(day)

    def open_paths(self) -> list[Path]:
        with self._lock:
            return [f.path for f in self._files.values()]

    # -- internals (caller holds the lock) ------------------------------------------------------
    def _open(self, day: str) -> _OpenFile:
        folder = self.directory / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = folder / f"{self._stem}-{self._seq:06d}{OPEN_SUFFIX}"
        fh = path.open("ab")
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        _fsync_dir(folder)
        opened = _OpenFile(path=path, fh=fh, day=day, opened=time.monotonic())
        self._files[day] = opened
        return opened

    def _close(self, day: str) -> None:
        f = self._files.pop(day)
        f.fh.flush()
        os.fsync(f.fh.fileno())
        if f.size == 0:
            f.fh.close()
            f.path.unlink(missing_ok=True)
            return
        final = f.path.with_name(f.path.name[: -len(OPEN_SUFFIX)] + CLOSED_SUFFIX)
        os.rename(f.path, final)
        _fsync_dir(final.parent)
        f.fh.close()  # releases the flock only after the rename is durable
        log.info("closed landing file %s (%d bytes)", final, f.size)


def recover_open_files(directory: Path) -> list[Path]:
    """Close `.open` files whose writer is gone (no flock held): keep complete lines, then rename."""
    recovered: list[Path] = []
    if not directory.exists():
        return recovered
    for path in sorted(directory.rglob("*" + OPEN_SUFFIX)):
        with path.open("r+b") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live collector owns it
            data = fh.read()
            keep = data.rfind(b"\n") + 1  # a partial last line was never acknowledged
            if keep != len(data):
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())
            if keep == 0:
                path.unlink()
                continue
            final = path.with_name(path.name[: -len(OPEN_SUFFIX)] + CLOSED_SUFFIX)
            os.rename(path, final)
            _fsync_dir(final.parent)
            recovered.append(final)
            log.warning("recovered landing file %s left open by a stopped collector", final)
    return recovered
