"""The validated-catalog cache: per-file results keyed by content hash.

Loading the bundled catalog must not dominate start-up, so a fresh process
that finds every file unchanged reads one cache file and imports neither pint,
pydantic nor ruamel. A changed file is re-validated alone; checks across
files always run again.

The cache holds data, never code: it is JSON (a pickle would run whatever its
writer put in it), it starts with a digest of its own payload (a flipped byte is
a different digest, so altered data is never served), and a file that another
user owns or others may write is ignored. Anything wrong with it means it is
rebuilt, never that a command fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from mlsysim.catalog.paths import cache_dir
from provenance.problems import Problem

FORMAT = 6
MAGIC = b"mlsysim-catalog-cache"
# Files whose contents change what validation produces (plus every schema module).
_CODE = ["units.txt", "units.py", "loader.py", "crosscheck.py", "cache.py", "records.py"]
_TUPLE, _PROBLEM = "\u0000t", "\u0000p"


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.blake2b(str(FORMAT).encode(), digest_size=16)
    files = [here / name for name in _CODE] + sorted((here / "schemas").glob("*.py"))
    files += [here.parent.parent / "provenance" / name for name in ("model.py", "yamlio.py")]
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def file_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _cache_file(root: Path) -> Path:
    key = hashlib.blake2b(str(root).encode(), digest_size=8).hexdigest()
    return cache_dir() / f"catalog-{key}.json"


def _encode(obj: Any) -> Any:
    if isinstance(obj, Problem):
        return {_PROBLEM: [obj.file, obj.line, obj.col, obj.field, obj.message]}
    if isinstance(obj, tuple):
        return {_TUPLE: [_encode(v) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    return obj


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if _TUPLE in obj:
            return tuple(obj[_TUPLE])
        if _PROBLEM in obj:
            file, line, col, field, message = obj[_PROBLEM]
            return Problem(str(file), int(line), int(col), str(field), str(message))
    return obj


def trusted_file(path: Path) -> bool:
    """Only a regular file this user owns and nobody else may write is read."""
    try:
        info = path.lstat()
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISREG(info.st_mode) and owner_ok and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(root: Path) -> dict[str, Any] | None:
    """The cache for this catalog root if it is intact and was written by this code, else None."""
    payload = read_cache_file(_cache_file(root), MAGIC)
    if payload is None:
        return None
    try:
        cached = json.loads(payload, object_hook=_decode)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError, MemoryError):
        return None
    if not isinstance(cached, dict) or cached.get("code") != _code_fingerprint() or not isinstance(cached.get("snapshot"), dict):
        return None
    return cached


def write(root: Path, content: dict[str, Any]) -> None:
    """Store atomically with owner-only write permission; a cache that cannot be
    written is simply not used."""
    payload = json.dumps(_encode({**content, "code": _code_fingerprint()}), separators=(",", ":")).encode("utf-8")
    write_cache_file(_cache_file(root), MAGIC, payload)


def read_cache_file(path: Path, magic: bytes) -> bytes | None:
    """The payload of a cache file `write_cache_file` wrote with `magic`: None unless this
    user owns the file, nobody else may write it, and the payload matches its digest."""
    if not trusted_file(path):
        return None
    try:
        header, _, payload = path.read_bytes().partition(b"\n")
        tag, digest = header.split(b" ")
    except (OSError, ValueError):
        return None
    if tag != magic or digest != file_hash(payload).encode("ascii"):
        return None
    return payload


def write_cache_file(target: Path, magic: bytes, payload: bytes) -> None:
    """Write `payload` to `target` behind a header of `magic` and the payload's digest,
    atomically (whole or absent), owner-only writable, in a directory only the owner may
    enter; on any OS error nothing is left behind and the cache is simply not written."""
    blob = magic + b" " + file_hash(payload).encode("ascii") + b"\n" + payload
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
