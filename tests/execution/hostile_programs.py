"""Hostile programs for the sandbox suite: each is a case that must FAIL (never pass).

Two patterns:
* forgery - an assert/functional/stdio case whose program does not compute the right answers but tries to fool the
  harness (exit early, print or inject success frames, patch comparisons, kill or stop the checker...), or burns
  resources (fork/memory bombs, infinite loops) and must fail by a limit and leave nothing behind;
* escape  - a stdio case whose expected output is exactly what the program could only print if it escaped
  (a secret's content, "connected", "wrote"), so an escape would show up as a pass.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from lm_eval_tts.grading.code import AssertCase, FunctionalCase, StdioCase

ADD_TESTS = ("assert add(1, 2) == 3", "assert add(2, 5) == 7")
WRONG_ADD = "def add(a, b):\n    return a - b\n"
SECRET_ENV = "LM_EVAL_TTS_HOSTILE_SECRET"


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# A full fake checker report: frames the fork server or the evaluator would accept, written everywhere possible.
FRAME_PAYLOAD = src("""
    import json, os, struct
    def frame(obj):
        body = json.dumps(obj).encode()
        return struct.pack(">I", len(body)) + body
    payload = b"".join(frame(m) for m in ({"i": 0, "ok": True}, {"i": 1, "ok": True}, {"done": True},
                                           {"ready": {"add": ["r", 0]}}, {"v": 3}, {"v": 7},
                                           {"id": 0, "results": [{"i": 0, "ok": True}, {"i": 1, "ok": True}]}))
""")
FRAME_SPRAY = FRAME_PAYLOAD + src("""
    for fd in range(0, 1024):
        try:
            os.write(fd, payload)
        except OSError:
            pass
""")
KILL_ALL = src("""
    import os, signal
    for p in os.listdir('/proc'):
        if p.isdigit() and int(p) != os.getpid():
            try:
                os.kill(int(p), signal.SIG{})
            except OSError:
                pass
""")


@dataclass(frozen=True)
class Hostile:
    name: str
    case: object
    expect_failure: tuple[str, ...] = ()  # acceptable failure kinds; empty = any failure


def _assert(name, program, tests=ADD_TESTS, *kinds):
    return Hostile(name, AssertCase(src(program), tests), kinds)


def forgery_programs() -> list[Hostile]:
    a = _assert
    return [
        a("sys_exit_before_asserts", "import sys\nsys.exit(0)\n" + WRONG_ADD),
        a("os_exit_before_asserts", "import os\nos._exit(0)\n" + WRONG_ADD),
        a("raise_systemexit", "raise SystemExit(0)\n"),
        a("exit_inside_function", "import os\ndef add(a, b):\n    os._exit(0)\n"),
        a("sys_exit_replaced", """
            import sys, builtins
            sys.exit = lambda *a: None
            builtins.exit = sys.exit
            def add(a, b):
                sys.exit(0)
        """),
        a("assertionerror_patched", """
            import builtins
            class Never(Exception):
                pass
            builtins.AssertionError = Never
        """ + WRONG_ADD),
        a("print_success_marker", """
            print('{"i": 0, "ok": true}\\n{"i": 1, "ok": true}\\n{"done": true}')
            print("PASSED", "ok", "1/1 tests passed")
        """ + WRONG_ADD),
        a("frame_spray_all_fds", FRAME_SPRAY + WRONG_ADD),
        a("frame_spray_from_function",
          "def add(a, b):\n" + textwrap.indent(FRAME_SPRAY, "    ") + "    return 0\n"),
        a("eq_always_true", """
            class Any:
                def __eq__(self, other):
                    return True
                __hash__ = None
            def add(a, b):
                return Any()
        """),
        a("int_subclass_eq", """
            class I(int):
                def __eq__(self, other):
                    return True
                __hash__ = int.__hash__
            def add(a, b):
                return I(0)
        """),
        a("str_subclass_eq", """
            class S(str):
                def __eq__(self, other):
                    return True
                __hash__ = str.__hash__
            def add(a, b):
                return S('no')
        """),
        a("class_spoofing_int", """
            class Fake:
                __class__ = property(lambda self: int)
                def __eq__(self, other):
                    return True
                def __index__(self):
                    return 0
            def add(a, b):
                return Fake()
        """),
        a("bool_always_true", """
            class T:
                def __bool__(self):
                    return True
            def is_even(n):
                return T()
        """, ("assert not is_even(3)", "assert not is_even(5)")),
        a("falsy_object_equal_to_everything", """
            class T:
                def __bool__(self):
                    return False
                def __eq__(self, o):
                    return True
            def is_even(n):
                return T()
        """, ("assert is_even(4)", "assert is_even(6) == True")),
        a("operator_and_builtins_patched", """
            import builtins, operator
            operator.eq = lambda a, b: True
            builtins.isinstance = lambda *a: True
            builtins.len = lambda x: 0
        """ + WRONG_ADD),
        a("shadow_builtin_on_both_sides", """
            def sorted(x, **k):
                return 0
            def add(a, b):
                return [a]
        """, ("assert sorted(add(3, 1)) == sorted([1, 3])", "assert sorted(add(1, 2)) == sorted([2, 1, 0])")),
        a("sys_modules_tampering", """
            import sys, types
            fake = types.ModuleType('math')
            fake.isclose = lambda *a, **k: True
            sys.modules['math'] = fake
            import math
            def area(r):
                return -1.0
        """, ("assert math.isclose(area(1), 3.14159, rel_tol=1e-3)",
              "assert math.isclose(area(2), 12.566, rel_tol=1e-3)")),
        a("plant_stdlib_module_for_checker", """
            import os
            code = 'import builtins\\n_len = builtins.len\\nbuiltins.len = lambda x: 3 if x == [] else _len(x)\\n'
            for d in ('.', '..', '/tmp', os.path.expanduser('~')):
                try:
                    open(os.path.join(d, 'colorsys.py'), 'w').write(code)
                except OSError:
                    pass
            colorsys = 1  # a stdlib module's name: the checker imports its own copy
            def f():
                return []
        """, ("assert len(f()) == 3", "assert len(f()) == 3")),
        a("json_encoder_patched_constant", """
            import json
            _orig = json.dumps
            def dumps(obj, **k):
                return _orig({'v': 0} if isinstance(obj, dict) and 'v' in obj else obj, **k)
            json.dumps = dumps
        """ + WRONG_ADD),
        a("globals_tampering_gc", """
            import gc
            for o in gc.get_objects():
                if isinstance(o, dict) and 'tests' in o:
                    o['tests'] = ['assert True', 'assert True']
        """ + WRONG_ADD),
        a("kill_parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + WRONG_ADD),
        a("killpg_parent", """
            import os, signal
            try:
                os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)
            except OSError:
                pass
        """ + WRONG_ADD),
        a("kill_minus_one", "import os, signal\nos.kill(-1, signal.SIGKILL)\n" + WRONG_ADD),
        a("kill_all_other_pids", KILL_ALL.format("KILL") + WRONG_ADD),
        a("stop_all_other_pids", KILL_ALL.format("STOP") + WRONG_ADD),
        a("proc_fd_of_others", FRAME_PAYLOAD + src("""
            for p in os.listdir('/proc'):
                try:
                    for fd in os.listdir(f'/proc/{p}/fd'):
                        with open(f'/proc/{p}/fd/{fd}', 'wb') as f:
                            f.write(payload)
                except OSError:
                    pass
        """) + WRONG_ADD),
        a("proc_mem_of_parent", """
            import os
            try:
                with open(f'/proc/{os.getppid()}/mem', 'r+b') as f:
                    f.write(b'x')
            except OSError:
                pass
        """ + WRONG_ADD),
        a("ptrace_parent", """
            import ctypes, os
            libc = ctypes.CDLL(None)
            libc.ptrace(16, os.getppid(), 0, 0)  # PTRACE_ATTACH
        """ + WRONG_ADD),
        a("signal_handlers_and_loop", """
            import signal
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP):
                signal.signal(s, signal.SIG_IGN)
            def add(a, b):
                while True:
                    pass
        """, ADD_TESTS, "timeout"),
        a("thread_left_running", """
            import threading, time
            def spin():
                while True:
                    print('x' * 10, flush=True)
                    time.sleep(0.01)
            threading.Thread(target=spin, daemon=False).start()
        """ + WRONG_ADD),
        a("daemon_child_left_behind", """
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(1000)
                os._exit(0)
        """ + WRONG_ADD),
        a("fork_bomb", """
            import os
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """),
        a("subprocess_bomb", """
            import subprocess, sys
            procs = []
            for _ in range(500):
                try:
                    procs.append(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(100)']))
                except OSError:
                    break
        """ + WRONG_ADD),
        a("memory_bomb", "x = bytearray(50 * 1024 ** 3)\n" + WRONG_ADD, ADD_TESTS, "memory"),
        a("memory_bomb_swallowed", """
            blocks = []
            while True:
                try:
                    blocks.append(bytearray(10 ** 8))
                except MemoryError:
                    pass
        """),
        a("infinite_loop_python", "def add(a, b):\n    while True:\n        a += 1\n", ADD_TESTS, "timeout"),
        a("infinite_loop_c_sum", "def add(a, b):\n    return sum(range(10 ** 13))\n", ADD_TESTS, "timeout"),
        a("regex_backtracking", """
            import re
            def add(a, b):
                return re.match(r'(a+)+$', 'a' * 60 + 'b')
        """, ADD_TESTS, "timeout"),
        a("sleep_forever", "import time\ntime.sleep(10 ** 6)\n"),
        a("huge_stdout_at_import", "while True:\n    print('x' * 100000)\n", ADD_TESTS, "output_limit", "timeout"),
        a("huge_return_value", "def add(a, b):\n    return 'x' * (200 * 1024 * 1024)\n"),
        a("deeply_nested_return", """
            def add(a, b):
                x = []
                for _ in range(100000):
                    x = [x]
                return x
        """),
        a("raise_rlimits", """
            import resource
            for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_NPROC):
                try:
                    resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                except (ValueError, OSError):
                    pass
        """ + WRONG_ADD),
        a("fill_tmp", """
            for i in range(10 ** 6):
                try:
                    with open(f'/tmp/fill{i}', 'wb') as f:
                        f.write(b'0' * (8 * 1024 * 1024))
                except OSError:
                    break
        """ + WRONG_ADD),
        Hostile("functional_forged_error_kind", FunctionalCase(src("""
            import json
            class Solution:
                def f(self, x):
                    raise SystemExit
            _orig = json.dumps
            def dumps(o, **k):
                forged = isinstance(o, dict) and ('v' in o or 'error' in o)
                return _orig({'error': 'passed', 'detail': 'ok'} if forged else o, **k)
            json.dumps = dumps
        """), "f", (("1", "1"),)), ("runtime_error",)),
        Hostile("functional_eq_object", FunctionalCase(src("""
            class Any(list):
                def __eq__(self, o):
                    return True
            class Solution:
                def f(self, x):
                    return Any()
        """), "f", (("1", "[1, 2]"), ("2", "[3]")))),
        Hostile("functional_exit", FunctionalCase("import os\nos._exit(0)\n", "f", (("1", "1"),))),
        Hostile("stdio_exit_before_output", StdioCase("import os\nos._exit(0)\n", (("", "42\n"),))),
        Hostile("stdio_huge_stdout", StdioCase("while True:\n    print('y' * 100000)\n", (("", "1\n"),)),
                ("output_limit", "timeout")),
        Hostile("stdio_fork_bomb", StdioCase(src("""
            import os
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """), (("", "1\n"),))),
    ]


def escape_programs(secret_path: str, secret: str, home_secret_path: str, project_file: str, project_text: str,
                    outside_dir: str, port: int, udp_port: int) -> list[Hostile]:
    """Programs whose only way to pass is to escape: the expected output is what they'd print if they did."""

    def s(name, program, expected):
        return Hostile(name, StdioCase(src(program), (("", expected),)))

    def read(path):
        return f"print(open({path!r}).read(), end='')\n"

    def write(path):
        return f"open({path!r}, 'w').write('pwned')\nprint('wrote')\n"

    return [
        s("read_secret_in_host_tmp", read(secret_path), secret),
        s("read_secret_in_home", read(home_secret_path), secret),
        s("read_project_file", read(project_file), project_text),
        s("read_secret_via_proc_parent_root", f"""
            import os
            print(open(f'/proc/{{os.getppid()}}/root{secret_path}').read(), end='')
        """, secret),
        s("read_secret_via_proc_1_cwd", f"print(open('/proc/1/cwd/../..' + {secret_path!r}).read(), end='')\n", secret),
        s("read_evaluator_environment", f"""
            import os
            print(os.environ.get({SECRET_ENV!r}, ''), end='')
        """, secret),
        s("read_environ_of_every_process", f"""
            import os
            for p in os.listdir('/proc'):
                try:
                    for item in open(f'/proc/{{p}}/environ', 'rb').read().split(b'\\0'):
                        if item.startswith(b'{SECRET_ENV}='):
                            print(item.split(b'=', 1)[1].decode(), end='')
                            raise SystemExit
                except OSError:
                    pass
        """, secret),
        s("write_outside_scratch", write(outside_dir + "/pwned_a"), "wrote\n"),
        s("write_project_dir", write(project_file + ".pwned"), "wrote\n"),
        s("write_etc", write("/etc/lm_eval_tts_pwned"), "wrote\n"),
        s("tcp_connect_localhost", f"""
            import socket
            s = socket.create_connection(('127.0.0.1', {port}), timeout=2)
            s.sendall(b'hello')
            print('connected')
        """, "connected\n"),
        s("tcp_connect_host_ips", f"""
            import socket
            ok = False
            ips = {{i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}}
            for ip in ips | {{'10.0.2.2', '172.17.0.1'}}:
                try:
                    socket.create_connection((ip, {port}), timeout=1).sendall(b'x')
                    ok = True
                except OSError:
                    pass
            print('connected' if ok else 'no')
        """, "connected\n"),
        s("udp_send", f"""
            import socket
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.sendto(b'leak', ('127.0.0.1', {udp_port}))
            print('sent')
        """, "never\n"),  # sending works on the sandbox's own loopback: the host-side listener is the check
        s("dns_lookup", "import socket\nsocket.gethostbyname('pypi.org')\nprint('resolved')\n", "resolved\n"),
    ]
