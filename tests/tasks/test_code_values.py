import json

import pytest

from lm_eval_tts.tasks import code_data
from lm_eval_tts.tasks.code_values import example_calls, shape_inputs, shape_like


def _plus_records():
    return code_data.read_jsonl(code_data.shipped_file("mbpp", "mbpp_plus.jsonl"))


@pytest.mark.parametrize(
    "value, template, expected",
    [
        ([1, 2], (0, 0), (1, 2)),
        ([[1, 2], [3, 4]], [(0, 0)], [(1, 2), (3, 4)]),
        ([[1, 2], [3]], ((0,),), ((1, 2), (3,))),
        ([1, 2], {0}, {1, 2}),
        ([], {"a": 1}, {}),
        ({"1": [1, 2]}, {1: (0,)}, {1: (1, 2)}),
        ({"x": 1}, {"a": 1}, {"x": 1}),
        ("abc", "s", "abc"),
        ([1, "a"], (0, "b"), (1, "a")),
        ([], (), ()),
        (True, 1, True),
    ],
)
def test_shape_like(value, template, expected):
    got = shape_like(value, template)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value, template, expected", [("1j", 2j, 1j), ("1e-100", 0, 1e-100), ("7", 0, 7)])
def test_numbers_written_as_text_are_parsed_for_whole_arguments_only(value, template, expected):
    assert shape_like(value, template, argument=True) == expected
    assert shape_like([value], (template,)) == (value,)


def test_example_calls_in_source_order():
    assertion = "import math\nassert math.isclose(f((1, 2), 3), 1.0)\nassert f((4,), 5) == 2\nassert f(x, 1)"
    assert example_calls(assertion, "f") == [[(1, 2), 3], [(4,), 5]]
    assert example_calls("assert g(1) == 1", "f") == []


def test_shaped_base_inputs_equal_the_example_asserts():
    """For every MBPP+ task whose asserts call the function with the base inputs, shaping the JSON inputs gives
    exactly the assert's literal arguments, types included (tuples stay tuples, nested too)."""
    checked = typed = 0
    for record in _plus_records():
        ep = record["entry_point"]
        import ast

        calls = []
        for node in ast.walk(ast.parse(record["assertion"])):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == ep:
                try:
                    calls.append((node.lineno, [ast.literal_eval(a) for a in node.args]))
                except ValueError:
                    calls.append((node.lineno, None))
        calls = [args for _, args in sorted(calls, key=lambda c: c[0])]
        if len(calls) != len(record["base_input"]) or None in calls:
            continue
        if json.dumps(calls, default=repr) != json.dumps(record["base_input"], default=repr):
            continue  # the asserts test other inputs than base_input
        shaped = shape_inputs(record["base_input"], record["assertion"], ep)
        assert repr(shaped) == repr(calls), record["task_id"]
        checked += 1
        typed += shaped != record["base_input"] or repr(shaped) != repr(record["base_input"])
    assert checked > 300 and typed > 40
