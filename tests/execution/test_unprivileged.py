"""The sandbox as an unprivileged user: bubblewrap in a user namespace, per-program namespaces nested in it, per-worker
process counts. Run from root (CI) as another uid, with the system's own Python of the same version (the test's
interpreter may live where that uid cannot read) and the package from this checkout."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UID = 43210  # an otherwise unused uid

SCRIPT = r"""
import json, threading, time
from lm_eval_tts.execution.pool import SandboxPool

def stdio(program, inputs=("",), total=10.0):
    return {"id": 0, "kind": "stdio", "program": program, "inputs": list(inputs), "per_test": total, "total": total}

out = {}
pool = SandboxPool(1)
out["mode"], out["isolated"] = pool.mode, pool.isolated
job = {"id": 1, "kind": "assert", "per_test": 5, "total": 10, "program": "def f(x):\n    return x + 1\n",
       "setup": "", "prelude": "", "tests": ["assert f(1) == 2", "assert f(2) == 4"]}
out["assert"] = [r["ok"] for r in pool.run_one(job)["results"]]
probe = ("import os\nopen('/tmp/mine', 'w').write('x')\nw = []\n"
         "for p in ('/etc/pwned', '/root/pwned', '/usr/pwned', '/pwned'):\n"
         "    try:\n        open(p, 'w'); w.append(p)\n    except OSError:\n        pass\n"
         "print(sorted(os.listdir('/tmp')), w, os.getuid())\n")
out["probes"] = [r["stdout"] for r in pool.run_one(stdio(probe, ("", "")))["runs"]]
bomb = ("import os, time\nn = 0\nwhile n < 10000:\n    try:\n        if os.fork() == 0:\n            time.sleep(6)\n"
        "            os._exit(0)\n        n += 1\n    except OSError:\n        break\nprint(n, flush=True)\ntime.sleep(6)\n")
other = SandboxPool(1)
holder = threading.Thread(target=pool.run_one, args=(stdio(bomb, total=4.0),))
holder.start()
time.sleep(1.5)
threads = ("import threading, subprocess, sys\nt = [threading.Thread(target=int) for _ in range(16)]\n"
           "[x.start() for x in t]\n[x.join() for x in t]\n"
           "print(subprocess.run([sys.executable, '-c', 'print(42)'], capture_output=True, text=True).stdout.strip())\n")
out["beside_a_bomb"] = [r["stdout"] for r in other.run_one(stdio(threads))["runs"]]
holder.join()
pool.close()
other.close()
print(json.dumps(out))
"""


def _python_for_others():
    """A Python of this version that any uid can run (the system's), or None."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for path in [f"/usr/bin/{version}", f"/usr/local/bin/{version}", *glob.glob(f"/opt/*/bin/{version}")]:
        real = os.path.realpath(path)
        if os.path.isfile(real) and all(os.stat(p).st_mode & 0o005 == 0o005 for p in [real, *Path(real).parents]):
            return real
    return None


def test_an_unprivileged_user_gets_the_same_sandbox():
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("bwrap"):
        pytest.skip("needs root (to run as another uid), setpriv and bubblewrap; CI has them")
    python = _python_for_others()
    if python is None or not all(os.stat(p).st_mode & 0o005 == 0o005 for p in [ROOT, *ROOT.parents]):
        pytest.skip("no Python of this version, or no readable checkout, for another uid")
    home = tempfile.mkdtemp(prefix="lm-eval-tts-unprivileged-")
    os.chown(home, UID, UID)
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
        done = subprocess.run(["setpriv", "--reuid", str(UID), "--regid", str(UID), "--clear-groups", python, "-c",
                               SCRIPT], capture_output=True, text=True, env=env, cwd=home, timeout=120)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["mode"] == "bwrap" and out["isolated"], out
    assert out["assert"] == [True, False]
    assert out["probes"] == [f"['mine'] [] {UID}\n"] * 2  # a fresh /tmp each time; nothing else writable
    assert out["beside_a_bomb"] == ["42\n"]
