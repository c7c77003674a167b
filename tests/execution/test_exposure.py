"""Which paths the bwrap sandbox hides and exposes: the mount plan on made-up layouts, and the package directories
of this installation (editable here, a wheel in site-packages elsewhere)."""

import os
import sys
from pathlib import Path

from lm_eval_tts.execution import exposure
from lm_eval_tts.paths import task_configs_dir


def _tmpfs_and_binds(argv):
    tmpfs = [argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"]
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind"]
    ro = [argv[i + 1] for i, a in enumerate(argv) if a == "--remount-ro"]
    return tmpfs, binds, ro


def test_plan_shows_only_what_is_exposed_and_covers_package_dirs_inside_it():
    exposed = ["/usr", "/root/py", "/work/venv/site-packages/numpy"]
    hidden = ["/usr/lib/python3/dist-packages", "/root/py/lib/python3.11/site-packages", "/work/venv/site-packages",
              "/srv/data"]
    argv = exposure.mount_plan(exposed, hidden, {"/bin": "usr/bin"})
    tmpfs, binds, ro = _tmpfs_and_binds(argv)
    assert argv[:3] == ["--symlink", "usr/bin", "/bin"]
    assert binds == ["/usr", "/root/py", "/work/venv/site-packages/numpy"]
    # a hidden dir outside everything exposed is simply absent (/srv/data); inside an exposed tree it is covered
    assert tmpfs == ["/usr/lib/python3/dist-packages", "/root/py/lib/python3.11/site-packages"]
    assert ro == tmpfs
    made = [argv[i + 1] for i, a in enumerate(argv) if a == "--dir"]
    assert made == ["/root", "/work", "/work/venv", "/work/venv/site-packages"]
    assert argv.index("/root/py") < argv.index("/root/py/lib/python3.11/site-packages")  # bound, then covered


def test_plan_orders_parents_first_whatever_the_input_order():
    a = exposure.mount_plan(["/a/b", "/a"], ["/a/b/c"])
    b = exposure.mount_plan(["/a", "/a/b"], ["/a/b/c"])
    assert a == b and _tmpfs_and_binds(a)[:2] == (["/a/b/c"], ["/a"])


def test_the_view_of_this_machine_has_the_system_and_the_interpreter_only():
    argv = exposure.sandbox_view()
    _, binds, _ = _tmpfs_and_binds(argv)
    allowed = set(exposure.system_dirs()) | set(exposure.stdlib_dirs()) | set(exposure.allowed_packages())
    assert set(binds) <= allowed and "/usr" in binds
    # the allowed packages appear under SANDBOX_PACKAGES, wherever they are installed (a venv under /tmp too)
    packages = [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == "--ro-bind"
                and argv[i + 2].startswith(exposure.SANDBOX_PACKAGES + "/")]
    assert packages == exposure.package_binds() and packages
    assert not any(b in ("/", "/home", "/root", "/opt", "/var", "/mnt", "/srv") for b in binds)


def test_this_installation_hides_every_copy_of_the_task_data():
    hidden = exposure.hidden_dirs()
    package = Path(exposure.__file__).resolve().parents[1]
    data = task_configs_dir().resolve()

    def covered(path):  # covered by an empty tmpfs, or inside /tmp, which the sandbox replaces with its own
        return any(str(path) == h or str(path).startswith(h + "/") for h in [*hidden, "/tmp"])

    assert covered(package) and covered(data)
    for entry in sys.path:
        if entry and "-packages" in entry and os.path.isdir(entry):
            assert covered(os.path.realpath(entry)), entry
    assert not covered(os.path.realpath(os.path.dirname(os.__file__)))  # the standard library stays


def test_a_wheel_install_in_any_site_packages_is_hidden(tmp_path, monkeypatch):
    """A wheel puts the data at site-packages/lm_eval_tts/task_configs: every site-packages on sys.path is hidden,
    wherever it is (here a made-up one outside every always-hidden place)."""
    site_dir = tmp_path / "lib" / "python3.11" / "site-packages"
    (site_dir / "lm_eval_tts" / "task_configs" / "mbpp" / "data").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(site_dir)])
    assert str(site_dir.resolve()) in exposure.package_dirs()


def test_allowed_packages_are_importable_paths():
    for path in exposure.allowed_packages():
        assert os.path.isdir(path)
        assert Path(path).name.split(".")[0] in exposure.ALLOWED_PACKAGES
    assert all(os.path.isdir(p) for p in exposure.import_paths("rlimits"))
    assert exposure.import_paths("bwrap") == [exposure.SANDBOX_PACKAGES]
