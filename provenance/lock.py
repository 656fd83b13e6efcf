"""A catalog-level lock for writers, and the clean-up of what killed runs left behind.

The lock is an exclusive advisory lock on the catalog directory itself (POSIX
`flock` on a descriptor of the directory), so no lock file is ever created in
the catalog and a killed holder releases it automatically: the kernel drops a
dead process's locks. On platforms without `fcntl` a lock file next to the
catalog is locked with `msvcrt` instead.

Every writer of catalog files (the freshness checker's apply and its write of
verification.json) holds this lock from reading the files it will edit to the
last rename, so two concurrent runs serialise their writes and each one's
read-modify-write sees the other's result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from provenance.problems import ProvenanceError


class LockTimeout(ProvenanceError):
    """Another run held the catalog lock for longer than we were willing to wait."""


@contextmanager
def catalog_lock(root: Path, timeout: float = 600.0, poll: float = 0.05) -> Iterator[None]:
    """Hold the catalog's exclusive write lock; wait at most `timeout` seconds for it."""
    root = Path(root)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        with _lock_file(root.parent / f".{root.name}.freshness.lock", timeout, poll):
            yield
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{root}: another freshness run has held the catalog lock for more than {timeout:g} s; "
                                      "wait for it to finish and run again") from None
                time.sleep(poll)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def _lock_file(path: Path, timeout: float, poll: float) -> Iterator[None]:  # pragma: no cover - Windows
    import msvcrt

    deadline = time.monotonic() + timeout
    with open(path, "a+b") as fh:
        while True:
            try:
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{path}: another freshness run holds the catalog lock; wait for it to finish") from None
                time.sleep(poll)
        try:
            yield
        finally:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)


def remove_stale_temp_dirs(prefix: str, max_age: float, parent: Path | None = None, now: float | None = None) -> list[Path]:
    """Delete directories named `prefix*` in the temp directory untouched for `max_age` seconds.

    Only this tool's own throw-away directories (recognised by their prefix) are
    touched, and only old ones, so a run in progress elsewhere keeps its own.
    """
    parent = Path(parent or tempfile.gettempdir())
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < max_age:
                continue
            shutil.rmtree(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed
