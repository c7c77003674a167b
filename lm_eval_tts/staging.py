"""Files and directories that appear complete or not at all: built in a hidden sibling, then published with one
rename.

The sibling gets the permissions a plain `mkdir` would under the user's umask, and so does everything in it:
tempfile.mkdtemp makes 0700 directories and some writers (transformers' save_pretrained) 0600 files, which
would otherwise stay on the published checkpoint and hide it from other users of a shared cache.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path


def staging_dir(final: Path) -> Path:
    """A new empty dir beside `final` (same filesystem, so the later rename is atomic)."""
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))


def apply_umask(root: Path) -> None:
    """chmod `root` and all below it as if created under the umask (dirs 0777, files 0666, minus the umask)."""
    mask = current_umask()
    for path in (root, *root.rglob("*")):
        if not path.is_symlink():
            path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def current_umask() -> int:
    """The process umask, read without changing it where Linux reports it (os.umask can only set it, and setting
    it to read it would briefly apply a wrong mask to files other threads create)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> Path:
    """Write via a hidden temporary file in the same dir, then rename: a reader never sees half a file. The file
    gets the user's umask (0o666 & ~umask), as a plain open() would."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
