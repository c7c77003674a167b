"""Content-addressed cache of merged checkpoints under `<cache_root>/merged/<key>/`.

The key is a SHA-256 over the cache format version, the output dtype, the exact weights (float.hex) and, per input
checkpoint in order, its resolved directory and, for every top-level file there, the name, the resolved target
(HF hub snapshots link to blobs named by content hash), size, mtime_ns, ctime_ns and inode. That costs one stat()
per file, not a read of the weights; a rewrite or replacement of any input file changes size, mtime, ctime or
inode, and ctime cannot be set back by hand (`touch -d` moves only mtime), so a changed input never hits an old
entry. The price of cheapness is a spurious miss after copying or chmod-ing an input dir (a re-merge).

Writes are atomic: the merge goes to `.<key>.partial-*` and is renamed to `<key>` only when complete, so a
killed merge leaves no `<key>` dir. An entry is used only if its manifest lists every file at the recorded size.
Concurrent runs for one key serialise on `flock(.<key>.lock)`; the loser waits, then reuses the winner's result.
Partial dirs left by killed runs are removed by the next merge of that key, or by `lm-eval-tts cache clear`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lm_eval_tts.cache_dir import cache_root
from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.engine import MANIFEST_NAME, merge_to_dir
from lm_eval_tts.merge.io import resolve_checkpoint
from lm_eval_tts.merge.spec import MergeSpec

CACHE_FORMAT_VERSION = 1
logger = logging.getLogger(__name__)


def merged_cache_dir() -> Path:
    return cache_root() / "merged"


def merge_key(spec: MergeSpec) -> str:
    identity = {
        "format": CACHE_FORMAT_VERSION,
        "dtype": spec.dtype,
        "weights": [w.hex() for w in spec.weights],
        "inputs": [_checkpoint_identity(resolve_checkpoint(ref)) for ref in spec.checkpoints],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def _checkpoint_identity(path: Path) -> dict:
    files = []
    for item in sorted(path.iterdir()):
        if not item.is_file():
            continue
        st = item.stat()
        files.append([item.name, str(item.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
    return {"path": str(path), "files": files}


def cached_merge(spec: MergeSpec, progress: bool | None = None) -> Path:
    """The merged checkpoint dir for `spec`, merging it now unless a complete entry with the same key exists."""
    root = _ensure_root()
    key = merge_key(spec)
    target = root / key
    if _is_complete(target):
        return target
    with _key_lock(root, key, blocking=True):
        if _is_complete(target):  # another process finished it while we waited
            return target
        _remove_leftovers(root, key)
        merge_to_dir(spec, target, progress=progress, provenance={"key": key})
    return target


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path
    size_bytes: int
    complete: bool  # False: a partial dir of an interrupted (or running) merge, never used
    manifest: dict


def list_cache() -> list[CacheEntry]:
    root = merged_cache_dir()
    if not root.is_dir():
        return []
    entries = []
    for item in sorted(root.iterdir()):
        if not item.is_dir():
            continue
        key = item.name.lstrip(".").split(".partial-")[0]
        complete = not item.name.startswith(".") and _is_complete(item)
        entries.append(CacheEntry(key, item, _dir_size(item), complete, _read_manifest(item) or {}))
    return entries


def clear_cache(keys: list[str] | None = None) -> tuple[list[CacheEntry], list[CacheEntry]]:
    """Remove entries (all, or those whose key starts with one of `keys`); returns (removed, busy).

    An entry whose key is being merged right now (its lock is held) is left alone and reported as busy.
    """
    root = merged_cache_dir()
    removed, busy = [], []
    for entry in list_cache():
        if keys is not None and not any(entry.key.startswith(k) for k in keys):
            continue
        with _key_lock(root, entry.key, blocking=False) as acquired:
            if not acquired:
                busy.append(entry)
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry)
    # The empty `.<key>.lock` files stay: deleting one while another process waits on it would let a third
    # process lock a new file of the same name and merge the same key concurrently.
    return removed, busy


def _ensure_root() -> Path:
    root = merged_cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise UserError(
            f"merge cache dir {root} is not writable ({err.strerror}); set LM_EVAL_TTS_CACHE to a writable dir "
            f"or pass -o DIR to write the merge elsewhere"
        ) from None
    return root


@contextmanager
def _key_lock(root: Path, key: str, blocking: bool):
    """Exclusive flock on `.<key>.lock` (released by the kernel if we are killed); yields whether we hold it."""
    with open(root / f".{key}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not blocking:
                yield False
                return
            logger.warning("another process is merging %s into the cache; waiting for it", key)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(root: Path, key: str) -> None:
    """Partial dirs of killed merges, and a `<key>` dir that fails the completeness check. Call under the lock."""
    for partial in root.glob(f".{key}.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)
    if (root / key).exists():
        shutil.rmtree(root / key)


def _read_manifest(path: Path) -> dict | None:
    try:
        return json.loads((path / MANIFEST_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _is_complete(path: Path) -> bool:
    manifest = _read_manifest(path)
    if manifest is None or not isinstance(manifest.get("files"), dict):
        return False
    for name, size in manifest["files"].items():
        try:
            if (path / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
