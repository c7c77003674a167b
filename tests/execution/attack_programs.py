"""Program texts of the attacks of issue 9 (an attacker's view of the sandbox), used by test_attacks.py.

Three kinds:
* lookups - find the benchmark's own data (tests, expected outputs, reference code) on the filesystem and answer
  from it; each takes the paths to try, so the same text doubles as a control that passes where data is visible;
* probes  - programs that pass only if the sandbox is clean (nothing of other jobs in their memory, a fresh
  scratch space, no keys, no IPC objects), so a leak shows up as a failed test;
* spoilers - programs that damage what they can reach, run before correct programs that must still pass.
"""

from __future__ import annotations

import textwrap


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# ---------------------------------------------------------------- lookups
RECORDS = src("""
    import gzip, json, os
    def _records(paths):
        for path in paths:
            try:
                with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
                    for line in f:
                        yield json.loads(line)
            except OSError:
                continue
""")


def lcb_stdin_lookup(paths: list[str]) -> str:
    """Print the output of the public test whose input equals this run's stdin."""
    return RECORDS + src(f"""
        import sys
        data = sys.stdin.read()
        answer = "no data"
        for rec in _records({paths!r}):
            for t in json.loads(rec["public_test_cases"]):
                if t["input"] == data:
                    answer = t["output"]
        print(answer, end="")
    """)


def lcb_functional_lookup(paths: list[str]) -> str:
    """Every method of Solution looks its call up in the public tests."""
    return RECORDS + src(f"""
        class Solution:
            def __getattr__(self, name):
                def answer(*args):
                    for rec in _records({paths!r}):
                        for t in json.loads(rec["public_test_cases"]):
                            if t["testtype"] == "functional" and [
                                    json.loads(x) for x in t["input"].split("\\n") if x.strip()] == list(args):
                                return json.loads(t["output"])
                    return None
                return answer
    """)


def expected_file_lookup(paths: list[str], name: str) -> str:
    """MBPP+ (or HumanEval+) expected outputs: the entry point returns the stored output for its arguments, using
    the sandbox's own codec (a program can import whatever the sandbox process has loaded)."""
    return RECORDS + src(f"""
        import sys
        codec = sys.modules["lm_eval_tts.execution.codec"]
        def {name}(*args):
            key = codec.encode(list(args))
            for rec in _records({paths!r}):
                for inp, out in zip(rec["inputs"], rec["expected"]):
                    if inp == key and out is not None:
                        return codec.decode(out)
            return None
    """)


def reference_lookup(paths: list[str], name: str, code: str) -> str:
    """Find the problem's record by its entry point / function name and exec its reference code (``code`` is
    the Python expression over ``rec`` that gives it)."""
    return RECORDS + src(f"""
        def {name}(*args):
            return None
        for rec in _records({paths!r}):
            if rec.get("entry_point") == {name!r} or any({name + "("!r} in t for t in rec.get("test_list", ())):
                exec({code}, globals())
                break
    """)


FILESYSTEM_SEARCH = src("""
    import json, os
    WANTED = ("mbpp", "livecodebench", "humaneval", "task_configs", "lm_eval_tts", "evalplus", "hostile-data")
    found = []
    for root, dirs, files in os.walk("/", onerror=lambda e: None):
        if root in ("/proc", "/sys", "/dev"):
            dirs[:] = []
            continue
        found += [os.path.join(root, n) for n in dirs + files if any(w in n.lower() for w in WANTED)]
    control = [p for p in found if "hostile-data-visible" in p]
    print(json.dumps([sorted(set(found) - set(control)), len(control)]))
""")


# ---------------------------------------------------------------- probes
MEMORY_SCAN = src("""
    import re
    def scan():
        pattern = re.compile(b"SEC" + b"RET[0-9a-f]{16}")
        found = set()
        with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
            for line in maps:
                addr, perms = line.split()[:2]
                start, end = (int(x, 16) for x in addr.split("-"))
                if perms[0] != "r" or end - start > 1 << 28:
                    continue
                try:
                    mem.seek(start)
                    found.update(pattern.findall(mem.read(end - start)))
                except (OSError, OverflowError, ValueError):
                    continue
        return " ".join(sorted(m.decode() for m in found))
""")

OBJECT_SEARCH = src("""
    import gc, sys
    def job_like(d):  # the shape of a job as the old fork server held it: program + target/tests/expected
        keys = {k for k in d if isinstance(k, str)}
        return bool(keys & {"tests", "expected", "setup", "inputs"}) or {"program", "target"} <= keys
    def leaked():
        seen = []
        frame = sys._getframe()
        while frame is not None:  # walk up to whoever called the program
            seen += [k for k in frame.f_locals if k in ("job", "expected", "tests", "case", "cases")]
            frame = frame.f_back
        seen += [sorted(o)[:8] for o in gc.get_objects() if isinstance(o, dict) and job_like(o)]
        return seen
""")


def fingerprint(keyctl: int) -> str:
    """The state a program starts in: what it finds in its scratch dirs, SysV IPC, keyrings, other processes, and
    whether its scratch space is free and writable. Identical for every program of a clean sandbox."""
    return src(f"""
        import ctypes, json, os
        libc = ctypes.CDLL(None)
        def keys(ring):
            buf = ctypes.create_string_buffer(4096)
            n = libc.syscall({keyctl}, 11, ring, buf, 4096)  # KEYCTL_READ: the keyring's key ids
            return max(n, 0) // 4
        def sysv(kind):
            try:
                return len(open(f"/proc/sysvipc/{{kind}}").read().splitlines()) - 1
            except OSError:
                return -1
        st = os.statvfs("/tmp")
        with open("probe", "w") as f:
            f.write("ok")
        state = {{
            "tmp": sorted(os.listdir("/tmp")), "shm": sorted(os.listdir("/dev/shm")), "cwd": sorted(os.listdir(".")),
            "sysv": [sysv(k) for k in ("shm", "sem", "msg")], "tmp_free": st.f_bfree > 0.9 * st.f_blocks,
            "keys": [keys(-3), keys(-4)],
            "others": sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()),
        }}
        os.unlink("probe")
        print(json.dumps(state))
    """)


# ---------------------------------------------------------------- spoilers (each must leave nothing behind)
def spoilers(keyctl: int, add_key: int) -> dict[str, str]:
    return {
        "rename_job_dir": src("""
            import os
            for move in (lambda: (os.chdir(".."), os.rename("job", "gone")), lambda: os.rename(os.getcwd(), "/tmp/x")):
                try:
                    move()
                except OSError:
                    pass
        """),
        "chmod_scratch": src("""
            import os
            for path in (".", "..", "/tmp/sandbox", "/tmp", "/dev/shm"):
                try:
                    os.chmod(path, 0)
                except OSError:
                    pass
        """),
        "fill_scratch": src("""
            import os
            for d in ("/tmp", "/dev/shm", ".", ".."):
                for i in range(10 ** 6):
                    try:
                        with open(os.path.join(d, f"fill{i}"), "wb") as f:
                            f.write(b"0" * (4 << 20))
                    except OSError:
                        break
        """),
        "plant_files_and_deep_trees": src("""
            import os
            for d in ("/tmp", "/tmp/sandbox", ".", "/dev/shm"):
                try:
                    open(os.path.join(d, "planted"), "w").write("left behind")
                    os.chdir(d)
                    for _ in range(1200):
                        os.mkdir("d")
                        os.chdir("d")
                except OSError:
                    pass
        """),
        "sysv_shared_memory": src("""
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.shmat.restype = ctypes.c_void_p
            for key in (101, 102, 103):
                shm = libc.shmget(key, 300 << 20, 0o1666)  # IPC_CREAT | 0666, never removed
                if shm >= 0:
                    addr = libc.shmat(shm, None, 0)
                    if addr not in (None, ctypes.c_void_p(-1).value):
                        ctypes.memset(addr, 1, 300 << 20)
            sem = libc.semget(7, 4, 0o1666)
            msg = libc.msgget(8, 0o1666)
        """),
        "signals_to_the_fork_server": src("""
            import os, signal
            os.kill(1, signal.SIGINT)
            for target in (1, os.getppid(), -1):
                for sig in range(1, 65):
                    if sig not in (signal.SIGKILL, signal.SIGSTOP):
                        try:
                            os.kill(target, sig)
                        except (OSError, ValueError):
                            pass
        """),
        "keys_in_keyrings": src(f"""
            import ctypes
            libc = ctypes.CDLL(None)
            for ring in (-3, -4, -5):  # session, user, user-session keyrings
                libc.syscall({add_key}, b"user", b"planted", b"left behind", 11, ring)
        """),
        "daemon_left_behind": src("""
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(1000)
                os._exit(0)
        """),
    }


def fork_bomb_holding(seconds: float) -> str:
    """Take as many process slots as the sandbox allows and hold them."""
    return src(f"""
        import os, time
        children = 0
        while children < 10000:
            try:
                if os.fork() == 0:
                    time.sleep({seconds})
                    os._exit(0)
                children += 1
            except OSError:
                break
        print(children, flush=True)
        time.sleep({seconds})
    """)


THREADS_AND_SUBPROCESS = src("""
    import subprocess, sys, threading
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(i)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout
    print(len(results), out.strip())
""")


# ---------------------------------------------------------------- values built to stall whoever decodes them
FLOOD_SET = src("""
    import sys
    _codec = sys.modules["lm_eval_tts.execution.codec"]
    M = (1 << 61) - 1
    # 80,000 distinct ints that all hash to 0, written as the set tree directly (building the set would take
    # minutes here too): what any program can make its own process send
    _codec.to_tree = lambda value, depth=0, _t=["s"] + [["i", format(k * M, "x")] for k in range(80_000)]: _t
""")
FLOOD_LIST = "M = (1 << 61) - 1\n_flood = [k * M for k in range(80_000)]\n"
