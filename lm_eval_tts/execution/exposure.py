"""What a sandboxed program may see of this machine's filesystem (bwrap mode): the plan of exposed and hidden paths.

The sandbox's root starts empty. It gets, read-only, only the operating system's own directories (``/usr``,
``/etc``, ``/sys`` and the ``/bin``, ``/lib``... entries, as directories or as the links they are), the Python
interpreter's prefix, and the third-party packages of ``ALLOWED_PACKAGES`` (numerical libraries that hold no
benchmark data) under ``SANDBOX_PACKAGES``; plus a fresh ``/dev``, ``/proc`` and private ``/tmp`` (``isolation``). Every other top-level
directory is simply absent: homes, ``/root``, ``/opt``, ``/var``, ``/srv``, ``/mnt``, the working dir's tree, data
mounts. Inside what is exposed, an empty read-only tmpfs covers every Python package directory: the interpreter's
and the system's ``site-packages``/``dist-packages``, every ``sys.path`` entry outside the standard library
(editable installs, $PYTHONPATH), this package with its ``task_configs`` (which ship LiveCodeBench tests, MBPP+
expected outputs and MBPP reference code) wherever it is installed, wheel or checkout, and the caches the
environment names.

``mount_plan`` orders these as bubblewrap arguments; everything else here is a pure function of the interpreter,
the environment and the filesystem, tested on made-up layouts.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import site
import sys
import sysconfig
from pathlib import Path

ALLOWED_PACKAGES = ("numpy",)  # importable by programs when installed; they contain code and no benchmark data
# Where bwrap mode shows the allowed packages, whatever their place on the host: a venv under /tmp would otherwise
# be covered by the sandbox's private /tmp (and by each program's fresh one).
SANDBOX_PACKAGES = "/packages"
SYSTEM_DIRS = ("/usr", "/etc", "/sys", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_CACHE_ENV = ("HF_HOME", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_CACHE", "TRANSFORMERS_CACHE",
              "XDG_CACHE_HOME", "XDG_DATA_HOME", "LM_EVAL_TTS_CACHE")
_SYSTEM_PACKAGE_GLOBS = ("/usr/lib/python3*/site-packages", "/usr/lib/python3*/dist-packages",
                         "/usr/lib/python3/dist-packages", "/usr/lib64/python3*/site-packages",
                         "/usr/local/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages")


def _real(paths) -> list[str]:
    return sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})


def _is_within(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def system_links() -> dict[str, str]:
    """Top-level system entries that are symbolic links (``/bin -> usr/bin`` on merged-/usr systems)."""
    return {p: os.readlink(p) for p in SYSTEM_DIRS if os.path.islink(p)}


def system_dirs() -> list[str]:
    return [p for p in SYSTEM_DIRS if os.path.isdir(p) and not os.path.islink(p)]


def stdlib_dirs() -> list[str]:
    """The interpreter's own directories: its prefix (binary, standard library, shared library). The sandbox runs
    the real binary, not a venv's link to it, so the venv's own dirs are not needed."""
    python = os.path.realpath(sys.executable)
    return _real([sys.base_prefix, sys.base_exec_prefix, os.path.dirname(os.path.dirname(python))])


def _stdlib() -> list[str]:
    return _real([sysconfig.get_paths()["stdlib"], sysconfig.get_path("platstdlib", vars={
        "platbase": sys.base_exec_prefix, "base": sys.base_prefix})])


def package_dirs() -> list[str]:
    """Every directory Python packages are installed in or imported from that is not the standard library."""
    from lm_eval_tts.paths import task_configs_dir

    stdlib = _stdlib()
    found = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], site.getusersitepackages()]
    found += getattr(site, "getsitepackages", list)()
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        found += glob.glob(os.path.join(prefix, "lib*", "python3*", "site-packages"))
        found += glob.glob(os.path.join(prefix, "lib*", "python3*", "dist-packages"))
    for pattern in _SYSTEM_PACKAGE_GLOBS:
        found += glob.glob(pattern)
    for entry in sys.path:  # editable installs, $PYTHONPATH, the working dir ("")
        real = os.path.realpath(entry or os.getcwd())
        if not _is_within(real, stdlib):
            found.append(real)
    package = Path(__file__).resolve().parents[1]
    found += [str(package), str(package / "task_configs")]
    try:
        found.append(str(task_configs_dir()))
    except FileNotFoundError:
        pass
    return [p for p in _real(found) if not _is_within(p, stdlib) or "-packages" in p]


def hidden_dirs() -> list[str]:
    """Directories covered with an empty tmpfs where they lie inside what is exposed (see the module docstring)."""
    candidates = package_dirs() + [os.environ[k] for k in _CACHE_ENV if os.environ.get(k)]
    private = ("/tmp", "/dev", "/proc")  # already the sandbox's own
    return [p for p in _real(candidates) if p != "/" and not _is_within(p, private)]


def allowed_packages() -> list[str]:
    """Directories of the ALLOWED_PACKAGES installed here (with their bundled shared libraries, ``<name>.libs``)."""
    out = []
    for name in ALLOWED_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        pkg = os.path.realpath(next(iter(spec.submodule_search_locations)))
        out += [pkg] + [p for p in (pkg + ".libs", os.path.join(os.path.dirname(pkg), name + ".libs"))
                        if os.path.isdir(p)]
    return sorted(set(out))


def package_binds() -> list[tuple[str, str]]:
    """(host dir, dir in the bwrap sandbox) of each allowed package dir: side by side under SANDBOX_PACKAGES, so a
    package finds its bundled ``<name>.libs`` beside it as on the host."""
    return [(p, f"{SANDBOX_PACKAGES}/{os.path.basename(p)}") for p in allowed_packages()]


def import_paths(mode: str) -> list[str]:
    """``sys.path`` entries the sandboxed interpreter adds for the allowed packages: SANDBOX_PACKAGES in bwrap mode,
    their host directories in the modes that keep the host's filesystem."""
    if mode == "bwrap":
        return [SANDBOX_PACKAGES] if allowed_packages() else []
    return sorted({os.path.dirname(p) for p in allowed_packages() if not p.endswith(".libs")})


def mount_plan(exposed, hidden, links=None) -> list[str]:
    """bubblewrap arguments for a root that shows only ``exposed`` (bound read-only at their own places, with the
    directories leading to them created), ``links`` (path -> target) as symbolic links, and covers each ``hidden``
    dir that lies inside an exposed one with an empty read-only tmpfs (e.g. site-packages in the interpreter's
    prefix). Nested paths are handled parents first; the root itself ends read-only."""
    actions = sorted({(p, "expose") for p in exposed} | {(p, "hide") for p in hidden},
                     key=lambda a: (len(Path(a[0]).parts), a[0], a[1]))
    argv: list[str] = []
    for path, target in sorted((links or {}).items()):
        argv += ["--symlink", target, path]
    done: list[tuple[str, str]] = []
    created: set[str] = set()
    covered: list[str] = []
    for path, kind in actions:
        ancestors = [a for a in done if a[0] != path and _is_within(path, [a[0]])]
        nearest = max(ancestors, key=lambda a: len(a[0]))[1] if ancestors else "hide"  # the root starts empty
        if kind == "hide":
            if nearest == "hide":
                continue  # not visible anyway
            argv += ["--perms", "0755", "--tmpfs", path]
            covered.append(path)
        else:
            if nearest == "expose":
                continue  # already visible
            owner = max((a[0] for a in ancestors if a[1] == "hide"), key=len, default="/")
            for i in range(len(Path(owner).parts) + 1, len(Path(path).parts)):
                d = str(Path(*Path(path).parts[:i]))
                if d not in created:
                    argv += ["--perms", "0755", "--dir", d]
                    created.add(d)
            argv += ["--ro-bind", path, path]
        done.append((path, kind))
    for path in covered:
        argv += ["--remount-ro", path]
    return argv


def sandbox_view() -> list[str]:
    """The mount plan of this machine and interpreter (bwrap arguments, before /dev, /proc and /tmp are added)."""
    argv = mount_plan(system_dirs() + stdlib_dirs(), hidden_dirs(), system_links())
    binds = package_binds()
    if binds:
        argv += ["--perms", "0755", "--dir", SANDBOX_PACKAGES]  # bwrap would make it 0700: closed to the sandbox uid
    for host, inside in binds:
        argv += ["--ro-bind", host, inside]
    return argv
