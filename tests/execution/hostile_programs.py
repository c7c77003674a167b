"""Hostile programs for the sandbox suite: each is a case that must FAIL (never pass).

Two patterns:
* forgery - an assert/functional case whose program does not compute the right answers but tries to fool the
  harness (exit early, print or inject success frames, patch comparisons, kill or stop the checker...);
* escape  - a stdio case whose expected output is exactly what the program could only print if it escaped
  (a secret's content, "connected", "wrote"), so an escape would show up as a pass.
Programs that burn resources (fork/memory bombs, infinite loops) fail by limit and must leave nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from lm_eval_tts.grading.code import AssertCase, FunctionalCase, StdioCase

ADD_TESTS = ("assert add(1, 2) == 3", "assert add(2, 5) == 7")
BOOL_TESTS = ("assert is_even(4)", "assert not is_even(3)")
WRONG_ADD = "def add(a, b):\n    return a - b\n"

# A full fake checker report: frames the worker would accept from a real checker, written everywhere possible.
FRAME_SPRAY = r'''
import json, os, struct
def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body
payload = b"".join(frame(m) for m in ({"i": 0, "ok": True}, {"i": 1, "ok": True}, {"done": True},
                                       {"ready": ["add"]}, {"v": 3}, {"v": 7}, {"id": 0, "results": []}))
for fd in range(0, 1024):
    try:
        os.write(fd, payload)
    except OSError:
        pass
'''


@dataclass(frozen=True)
class Hostile:
    name: str
    case: object
    expect_failure: tuple[str, ...] = ()  # acceptable failure kinds; empty = any failure


def forgery_programs() -> list[Hostile]:
    a = lambda name, program, tests=ADD_TESTS, *kinds: Hostile(name, AssertCase(program, tests), kinds)  # noqa: E731
    return [
        a("sys_exit_before_asserts", "import sys\nsys.exit(0)\n" + WRONG_ADD),
        a("os_exit_before_asserts", "import os\nos._exit(0)\n" + WRONG_ADD),
        a("raise_systemexit", "raise SystemExit(0)\n"),
        a("exit_inside_function", "import os\ndef add(a, b):\n    os._exit(0)\n"),
        a("sys_exit_replaced", "import sys, builtins\nsys.exit = lambda *a: None\nbuiltins.exit = sys.exit\n"
          "def add(a, b):\n    sys.exit(0)\n    return None\n"),
        a("assertionerror_patched", "import builtins\nclass Never(Exception):\n    pass\n"
          "builtins.AssertionError = Never\n" + WRONG_ADD),
        a("print_success_marker", 'print(\'{"i": 0, "ok": true}\\n{"i": 1, "ok": true}\\n{"done": true}\')\n'
          'print("PASSED", "ok", "1/1 tests passed")\n' + WRONG_ADD),
        a("frame_spray_all_fds", FRAME_SPRAY + WRONG_ADD),
        a("frame_spray_from_function", "def add(a, b):\n" + "\n".join("    " + l for l in FRAME_SPRAY.splitlines())
          + "\n    return 0\n"),
        a("eq_always_true", "class Any:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n"
          "def add(a, b):\n    return Any()\n"),
        a("int_subclass_eq", "class I(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
          "def add(a, b):\n    return I(0)\n"),
        a("str_subclass_eq", "class S(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n"
          "def add(a, b):\n    return S('no')\n"),
        a("class_spoofing_int", "class Fake:\n    __class__ = property(lambda self: int)\n"
          "    def __eq__(self, other):\n        return True\n    def __index__(self):\n        return 0\n"
          "def add(a, b):\n    return Fake()\n"),
        a("bool_always_true", "class T:\n    def __bool__(self):\n        return True\n"
          "def is_even(n):\n    return T()\n", ("assert not is_even(3)", "assert not is_even(5)")),
        a("ne_false_for_not_tests", "class T:\n    def __bool__(self):\n        return False\n"
          "    def __eq__(self, o):\n        return True\ndef is_even(n):\n    return T()\n",
          ("assert is_even(4)", "assert is_even(6) == True")),
        a("operator_and_builtins_patched", "import builtins, operator\noperator.eq = lambda a, b: True\n"
          "builtins.isinstance = lambda *a: True\nbuiltins.len = lambda x: 0\n" + WRONG_ADD),
        a("shadow_builtin_on_both_sides", "def sorted(x, **k):\n    return 0\ndef add(a, b):\n    return [a]\n",
          ("assert sorted(add(3, 1)) == sorted([1, 3])", "assert sorted(add(1, 2)) == sorted([2, 1, 0])")),
        a("sys_modules_tampering", "import sys, types\nfake = types.ModuleType('math')\n"
          "fake.isclose = lambda *a, **k: True\nsys.modules['math'] = fake\nimport math\n"
          "def area(r):\n    return -1.0\n",
          ("assert math.isclose(area(1), 3.14159, rel_tol=1e-3)", "assert math.isclose(area(2), 12.566, rel_tol=1e-3)")),
        a("json_encoder_patched_constant", "import json\n_orig = json.dumps\n"
          "json.dumps = lambda obj, **k: _orig({'v': 0} if 'v' in obj else obj, **k) if isinstance(obj, dict) else _orig(obj, **k)\n"
          + WRONG_ADD),
        a("globals_tampering_frames", "import sys, gc\nfor o in gc.get_objects():\n    if isinstance(o, dict) and 'tests' in o:\n"
          "        o['tests'] = ['assert True', 'assert True']\n" + WRONG_ADD),
        a("kill_parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + WRONG_ADD),
        a("killpg_parent", "import os, signal\ntry:\n    os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n"
          "except OSError:\n    pass\n" + WRONG_ADD),
        a("kill_minus_one", "import os, signal\nos.kill(-1, signal.SIGKILL)\n" + WRONG_ADD),
        a("kill_all_other_pids", "import os, signal\nfor p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != os.getpid():\n"
          "        try:\n            os.kill(int(p), signal.SIGKILL)\n        except OSError:\n            pass\n" + WRONG_ADD),
        a("stop_all_other_pids", "import os, signal\nfor p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != os.getpid():\n"
          "        try:\n            os.kill(int(p), signal.SIGSTOP)\n        except OSError:\n            pass\n" + WRONG_ADD),
        a("proc_fd_of_others", "import os\n" + FRAME_SPRAY.replace("for fd in range(0, 1024):\n    try:\n        os.write(fd, payload)",
          "for p in os.listdir('/proc'):\n    try:\n        for fd in os.listdir(f'/proc/{p}/fd'):\n"
          "            with open(f'/proc/{p}/fd/{fd}', 'wb') as f:\n                f.write(payload)") + WRONG_ADD),
        a("proc_mem_of_parent", "import os\ntry:\n    with open(f'/proc/{os.getppid()}/mem', 'r+b') as f:\n        f.write(b'x')\n"
          "except OSError:\n    pass\n" + WRONG_ADD),
        a("ptrace_parent", "import ctypes, os\nlibc = ctypes.CDLL(None)\nlibc.ptrace(16, os.getppid(), 0, 0)\n" + WRONG_ADD),
        a("signal_handlers_and_loop", "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP):\n"
          "    signal.signal(s, signal.SIG_IGN)\ndef add(a, b):\n    while True:\n        pass\n", ADD_TESTS, "timeout"),
        a("thread_left_running", "import threading, time\ndef spin():\n    while True:\n        print('x' * 10, flush=True)\n"
          "        time.sleep(0.01)\nthreading.Thread(target=spin, daemon=False).start()\n" + WRONG_ADD),
        a("daemon_child_left_behind", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
          "        time.sleep(1000)\n    os._exit(0)\n" + WRONG_ADD),
        a("fork_bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
        a("subprocess_bomb", "import subprocess, sys\nprocs = []\nfor _ in range(500):\n    try:\n"
          "        procs.append(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(100)']))\n"
          "    except OSError:\n        break\n" + WRONG_ADD),
        a("memory_bomb", "x = bytearray(50 * 1024 ** 3)\n" + WRONG_ADD, ADD_TESTS, "memory"),
        a("memory_bomb_swallowed", "blocks = []\nwhile True:\n    try:\n        blocks.append(bytearray(10 ** 8))\n"
          "    except MemoryError:\n        pass\n"),
        a("infinite_loop_python", "def add(a, b):\n    while True:\n        a += 1\n", ADD_TESTS, "timeout"),
        a("infinite_loop_c_sum", "def add(a, b):\n    return sum(range(10 ** 13))\n", ADD_TESTS, "timeout"),
        a("regex_backtracking", "import re\ndef add(a, b):\n    return re.match(r'(a+)+$', 'a' * 60 + 'b')\n", ADD_TESTS, "timeout"),
        a("sleep_forever", "import time\ntime.sleep(10 ** 6)\n"),
        a("huge_stdout_at_import", "while True:\n    print('x' * 100000)\n", ADD_TESTS, "output_limit", "timeout"),
        a("huge_return_value", "def add(a, b):\n    return 'x' * (200 * 1024 * 1024)\n"),
        a("deeply_nested_return", "def add(a, b):\n    x = []\n    for _ in range(100000):\n        x = [x]\n    return x\n"),
        a("raise_rlimits", "import resource\nfor r in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_NPROC):\n"
          "    try:\n        resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n    except (ValueError, OSError):\n"
          "        pass\n" + WRONG_ADD),
        a("fill_tmp", "import os\nfor i in range(10 ** 6):\n    try:\n        with open(f'/tmp/fill{i}', 'wb') as f:\n"
          "            f.write(b'0' * (8 * 1024 * 1024))\n    except OSError:\n        break\n" + WRONG_ADD),
        a("plant_stdlib_module_for_checker",
          "import os\ncode = 'import builtins\\n_len = builtins.len\\nbuiltins.len = lambda x: 3 if x == [] else _len(x)\\n'\n"
          "for d in ('.', '..', '/tmp', os.path.expanduser('~')):\n    try:\n"
          "        open(os.path.join(d, 'colorsys.py'), 'w').write(code)\n    except OSError:\n        pass\n"
          "colorsys = 1\ndef f():\n    return []\n", ("assert len(f()) == 3", "assert len(f()) == 3")),
        Hostile("functional_forged_error_kind", FunctionalCase(
            "import json, socket\nclass Solution:\n    def f(self, x):\n        raise SystemExit\n"
            "_orig = json.dumps\njson.dumps = lambda o, **k: _orig({'error': 'passed', 'detail': 'ok'} "
            "if isinstance(o, dict) and ('v' in o or 'error' in o) else o, **k)\n", "f", (("1", "1"),)),
            ("runtime_error",)),
        Hostile("functional_eq_object", FunctionalCase(
            "class Any(list):\n    def __eq__(self, o):\n        return True\nclass Solution:\n"
            "    def f(self, x):\n        return Any()\n", "f", (("1", "[1, 2]"), ("2", "[3]")))),
        Hostile("functional_exit", FunctionalCase("import os\nos._exit(0)\n", "f", (("1", "1"),))),
        Hostile("stdio_exit_before_output", StdioCase("import os\nos._exit(0)\n", (("", "42\n"),))),
        Hostile("stdio_huge_stdout", StdioCase("while True:\n    print('y' * 100000)\n", (("", "1\n"),)),
                ("output_limit", "timeout")),
        Hostile("stdio_fork_bomb", StdioCase("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                                             "        pass\n", (("", "1\n"),))),
    ]


def escape_programs(secret_path: str, secret: str, home_secret_path: str, project_file: str, project_text: str,
                    outside_dir: str, port: int, udp_port: int) -> list[Hostile]:
    """Programs whose only way to pass is to escape. Exact texts they'd have to print are the expected outputs."""
    s = lambda name, program, expected: Hostile(name, StdioCase(program, (("", expected),)))  # noqa: E731
    read = "print(open({!r}).read(), end='')\n"
    write = ("import os\nopen({!r}, 'w').write('pwned')\nprint('wrote')\n")
    return [
        s("read_secret_in_host_tmp", read.format(secret_path), secret),
        s("read_secret_in_home", read.format(home_secret_path), secret),
        s("read_project_file", read.format(project_file), project_text),
        s("read_secret_via_proc_parent_root", f"import os\nprint(open(f'/proc/{{os.getppid()}}/root{secret_path}').read(), end='')\n", secret),
        s("read_secret_via_proc_1_cwd", "import os\nprint(open('/proc/1/cwd/../..' + {!r}).read(), end='')\n".format(secret_path), secret),
        s("read_parent_environ", "import os\nprint(open(f'/proc/{os.getppid()}/environ').read())\n", "x"),
        s("write_outside_scratch", write.format(outside_dir + "/pwned_a"), "wrote\n"),
        s("write_project_dir", write.format(project_file + ".pwned"), "wrote\n"),
        s("write_etc", write.format("/etc/lm_eval_tts_pwned"), "wrote\n"),
        s("tcp_connect_localhost", f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
          "s.sendall(b'hello')\nprint('connected')\n", "connected\n"),
        s("tcp_connect_host_ips", "import socket\nimport subprocess\nok = False\n"
          f"for ip in {{i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}} | {{'10.0.2.2', '172.17.0.1'}}:\n"
          f"    try:\n        socket.create_connection((ip, {port}), timeout=1).sendall(b'x')\n        ok = True\n"
          "    except OSError:\n        pass\nprint('connected' if ok else 'no')\n", "connected\n"),
        s("udp_send", f"import socket\nu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nu.sendto(b'leak', ('127.0.0.1', {udp_port}))\n"
          "print('sent')\n", "never\n"),
        s("dns_lookup", "import socket\nprint(socket.gethostbyname('pypi.org'))\n", "connected\n"),
    ]
