"""Assert tests run in the driver, the program process answering one call at a time: sequential semantics, deadlines,
and the record of what the program returned during each test."""

from lm_eval_tts.grading.code import AssertCase, FunctionalCase, grade_programs

# Peeks at the program process's socket to the driver: anything queued beyond the request being answered would be
# an input it was not called with yet.
PEEK = """
import socket
def queued():
    s = socket.fromfd(3, socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return len(s.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return 0
    finally:
        s.close()
"""


def test_state_and_order_are_those_of_sequential_runs():
    counter = "n = 0\ndef tick(step=1):\n    global n\n    n += step\n    return n\n"
    tests = ("assert tick() == 1", "assert tick(step=2) == 3", "assert [tick()] == [4]",
             "assert tick() == 5 and tick() == 6")
    wrong = ("assert tick() == 1", "assert tick() == 3", "assert tick() == 3")
    good, bad = grade_programs([AssertCase(counter, tests), AssertCase(counter, wrong)], progress=False)
    assert good.passed and good.outputs == ('["l",1]', '["l",3]', '["l",4]', '["l",5,6]')
    assert bad.tests_passed == (True, False, True) and bad.outputs == ('["l",1]', '["l",2]', '["l",3]')


def test_a_program_only_ever_holds_the_call_it_is_answering():
    program = PEEK + "def f(x):\n    return queued()\n"
    (v,) = grade_programs([AssertCase(program, ("assert f(1) == 0", "assert f(2) == 0", "assert f([3] * 99) == 0"))],
                          progress=False)
    assert v.passed, v
    tests = tuple((str(i), "0") for i in range(20))
    (w,) = grade_programs([FunctionalCase("class Solution:\n    def g(self, x):\n        return queued()\n" + PEEK,
                                          "g", tests)], progress=False)
    assert w.passed and w.outputs == ("0",) * 20, w


def test_timeout_in_a_call_stops_the_rest():
    program = "def f(x):\n    while x == 2:\n        pass\n    return x\n"
    (v,) = grade_programs([AssertCase(program, ("assert f(1) == 1", "assert f(2) == 2", "assert f(3) == 3"))],
                          timeout_per_test=1.0, progress=False)
    assert v.tests_passed == (True, False, False) and v.failure == "timeout"
    assert v.outputs == ('["l",1]', None, None)


def test_outputs_of_objects_and_raising_calls():
    program = ("class Box:\n    def __init__(self, v):\n        self.v = v\n"
               "def box(v):\n    return Box(v)\n"
               "def boom(x):\n    raise ValueError(x)\n")
    (v,) = grade_programs([AssertCase(program, ("assert box(2).v == 2", "assert boom(1) == 1", "assert {1: 2} == {1: 2}"))],
                          progress=False)
    assert v.tests_passed == (True, False, True)
    assert v.outputs == ('["l",["r",0],2]', None, '["l"]')
