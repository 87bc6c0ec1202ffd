"""Durable, rotating JSONL files: the only place the collector keeps what it accepted.

fsync policy (docs/events.md): a request's lines are written with `os.write` (no user-space buffer
that could keep half a line for a later write to finish) and `os.fsync`ed before the HTTP answer: a
2xx tells the browser it may forget the events, so they must survive a crash of this process or of
the machine from then on. A new file and every rename are made durable by fsyncing the directory.
Files are written as `<name>.jsonl.open` under `dt=YYYY-MM-DD/` and renamed to `<name>.jsonl` when
rotated (size, age, new day) or closed, so the loader only ever sees complete files.

A write that fails (ENOSPC, EIO, short write) never leaves a partial line behind: the file is cut back
to its last acknowledged byte and retired (renamed to `.jsonl`; the next request opens a new file),
and the collector answers 503 so the client retries. If even the cut fails, the file stays `.open`,
gets no further writes, and every rotation tick retries the cut; an `.open` file left by a crashed
collector is recovered at start (its unacknowledged partial last line dropped). Each open file is held
with an exclusive `flock`, so recovery never steals a live collector's file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingestion.events.landing import CLOSED_SUFFIX, OPEN_SUFFIX

log = logging.getLogger(__name__)

FileWrite = Callable[[int, bytes], int]  # os.write's signature: the seam where tests inject a full disk
_TAIL_CHUNK = 64 * 1024


@dataclass
class _OpenFile:
    path: Path
    fd: int
    day: str
    opened: float
    size: int = 0  # bytes written, fsynced and acknowledged: never cut below this


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _closed_name(path: Path) -> Path:
    return path.with_name(path.name[: -len(OPEN_SUFFIX)] + CLOSED_SUFFIX)


class RotatingJsonlWriter:
    """Append JSON lines durably to day-partitioned files that rotate by size and age. Thread-safe."""

    def __init__(
        self,
        directory: Path,
        prefix: str,
        max_bytes: int,
        max_age_s: float,
        *,
        file_write: FileWrite = os.write,
    ) -> None:
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._file_write = file_write
        self._lock = threading.Lock()
        self._files: dict[str, _OpenFile] = {}
        self._retired: list[_OpenFile] = []  # failed writes whose cut or rename must be retried
        self._seq = 0
        self._stem = f"{prefix}-{socket.gethostname()}-{os.getpid()}-{int(time.time() * 1000)}"
        self.directory.mkdir(parents=True, exist_ok=True)

    def write(self, day: str, lines: list[bytes]) -> Path:
        """Append `lines` (each without newline) to the day's file and fsync; returns the file path.

        Raises OSError when the lines could not be made durable; nothing of them is left in the file.
        """
        payload = b"".join(line + b"\n" for line in lines)
        with self._lock:
            self._retry_retired()
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
            try:
                self._write_all(current.fd, payload)
                os.fsync(current.fd)
            except OSError as exc:
                log.error(
                    "landing write to %s failed (%s): cutting it back to %d bytes",
                    current.path,
                    exc,
                    current.size,
                )
                self._files.pop(day)
                self._retired.append(current)
                self._retry_retired()
                raise
            current.size += len(payload)
            return current.path

    def rotate_expired(self) -> int:
        """Close files older than max_age (or of a past day) so the loader can pick them up."""
        today = time.strftime("%Y-%m-%d", time.gmtime())
        with self._lock:
            self._retry_retired()
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
            self._retry_retired()
            for day in list(self._files):
                self._close(day)
            for f in self._retired:  # still not finished: left `.open` for recovery at the next start
                os.close(f.fd)
                log.error("landing file %s left .open: recovered when the collector starts again", f.path)
            self._retired.clear()

    def open_paths(self) -> list[Path]:
        with self._lock:
            return [f.path for f in self._files.values()]

    # -- internals (caller holds the lock) ------------------------------------------------------
    def _write_all(self, fd: int, payload: bytes) -> None:
        view = memoryview(payload)
        while view:
            written = self._file_write(fd, view)
            if written <= 0:
                raise OSError(f"write returned {written}")
            view = view[written:]

    def _retry_retired(self) -> None:
        """Cut each retired file back to its acknowledged size, then close it like a rotation."""
        for f in list(self._retired):
            try:
                os.ftruncate(f.fd, f.size)
                os.fsync(f.fd)
                self._finish(f)
            except OSError as exc:
                log.error(
                    "landing file %s still not cut back (%s): retried at the next write or rotation",
                    f.path,
                    exc,
                )
                continue
            self._retired.remove(f)

    def _open(self, day: str) -> _OpenFile:
        folder = self.directory / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = folder / f"{self._stem}-{self._seq:06d}{OPEN_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _fsync_dir(folder)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        opened = _OpenFile(path=path, fd=fd, day=day, opened=time.monotonic())
        self._files[day] = opened
        return opened

    def _close(self, day: str) -> None:
        """Rotate the day's file out. Never raises: a file that cannot be finished now is retried."""
        f = self._files.pop(day)
        try:
            os.fsync(f.fd)
            self._finish(f)
        except OSError as exc:
            log.error(
                "landing file %s could not be closed (%s): retried at the next write or rotation", f.path, exc
            )
            self._retired.append(f)

    def _finish(self, f: _OpenFile) -> None:
        """Rename a complete file to `.jsonl` (or drop an empty one); the flock goes with the fd."""
        if f.size == 0:
            f.path.unlink(missing_ok=True)
            os.close(f.fd)
            return
        final = _closed_name(f.path)
        os.rename(f.path, final)
        _fsync_dir(final.parent)
        os.close(f.fd)  # releases the flock only after the rename is durable
        log.info("closed landing file %s (%d bytes)", final, f.size)


def _complete_size(fh) -> int:
    """Bytes up to and including the last newline, found by reading backwards from the end."""
    end = fh.seek(0, os.SEEK_END)
    pos = end
    while pos > 0:
        start = max(0, pos - _TAIL_CHUNK)
        fh.seek(start)
        cut = fh.read(pos - start).rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0


def recover_open_files(directory: Path) -> list[Path]:
    """Close `.open` files whose writer is gone (no flock held): keep complete lines, then rename.

    A partial last line was never acknowledged (the 2xx follows the fsync of whole lines), so it is cut.
    """
    recovered: list[Path] = []
    if not directory.exists():
        return recovered
    for path in sorted(directory.rglob("*" + OPEN_SUFFIX)):
        with path.open("r+b") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live collector owns it
            keep = _complete_size(fh)
            if keep != fh.seek(0, os.SEEK_END):
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())
                log.warning("cut the torn tail of %s back to %d bytes", path, keep)
            if keep == 0:
                path.unlink()
                continue
            final = _closed_name(path)
            os.rename(path, final)
            _fsync_dir(final.parent)
            recovered.append(final)
            log.warning("recovered landing file %s left open by a stopped collector", final)
    return recovered
