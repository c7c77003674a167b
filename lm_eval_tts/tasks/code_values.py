"""MBPP+ test values: restoring Python types lost in the JSON data file, and the shipped expected outputs.

MBPP+ stores call arguments as JSON, so tuples, sets and complex numbers arrive as lists and strings, while the
task's own example assert (shown in the prompt) calls the function with tuples. `shape_like` restores the types
the assert shows: each argument takes, recursively, the container and number types of the same argument in the
first example call. Arguments and the canonical solution's outputs are stored in the sandbox's own lossless text
form (`lm_eval_tts.execution.codec`: tuple/set/dict keys/complex/bytes/inf/nan survive).
"""

from __future__ import annotations

import ast
import gzip
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lm_eval_tts.errors import UserError
from lm_eval_tts.tasks.code_extract import parse_quietly

# ---------------------------------------------------------------- argument types from the example assert


def example_calls(assertion: str, entry_point: str) -> list[list[Any]]:
    """Literal argument lists of the `entry_point(...)` calls in the assert text, in source order."""
    try:
        tree = parse_quietly(assertion)
    except SyntaxError:
        return []
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point
    ]
    found = []
    for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        try:
            found.append([ast.literal_eval(arg) for arg in call.args])
        except (ValueError, SyntaxError, TypeError):
            continue
    return found


def shape_like(value: Any, template: Any, argument: bool = False) -> Any:
    """`value` (decoded JSON) converted to the types of `template` (a literal from the example call).

    Numbers written as strings are parsed only for a whole argument (`argument=True`): JSON cannot hold complex
    numbers, so MBPP+ writes such arguments as text, while a string inside a container is real data.
    """
    if isinstance(template, (tuple, list)) and isinstance(value, (list, tuple)):
        items = [shape_like(v, _element_template(template, i, v)) for i, v in enumerate(value)]
        return tuple(items) if isinstance(template, tuple) else items
    if isinstance(template, (set, frozenset)) and isinstance(value, (list, tuple)):
        element = next(iter(template)) if template else None
        items = [shape_like(v, element) for v in value]
        return frozenset(items) if isinstance(template, frozenset) else set(items)
    if isinstance(template, dict) and isinstance(value, (list, tuple)) and not value:
        return {}
    if isinstance(template, dict) and isinstance(value, dict) and template:
        key_template, values = next(iter(template)), list(template.values())
        shaped = {}
        for k, v in value.items():
            key = _shape_key(k, key_template)
            shaped[key] = shape_like(v, template[key] if key in template else _element_template(values, 0, v))
        return shaped
    is_number = isinstance(template, (int, float, complex)) and not isinstance(template, bool)
    if argument and is_number and isinstance(value, str):
        return _number_from_text(value, template)
    return value


def _element_template(template: tuple | list, index: int, value: Any) -> Any:
    """The template of one element: the one at the same index if it is the same kind of thing (container or
    scalar), else the first element of that kind (example tuples are often heterogeneous, e.g. (1, (4, 6), 10)),
    else, for a container nested deeper than the example shows, the enclosing template itself."""
    candidates = ([template[index]] if index < len(template) else []) + list(template)
    for candidate in candidates:
        if _kind(candidate) == _kind(value):
            return candidate
    return template if _kind(value) == "sequence" else None  # nesting deeper than the example: same shape


def _kind(x: Any) -> str:
    if isinstance(x, (list, tuple, set, frozenset)):
        return "sequence"
    return "mapping" if isinstance(x, dict) else "scalar"


def _shape_key(key: str, key_template: Any) -> Any:
    if isinstance(key_template, int) and not isinstance(key_template, bool):
        try:
            return int(key)
        except ValueError:
            return key
    return key


def _number_from_text(text: str, template: int | float | complex) -> Any:
    for kind in ((complex,) if isinstance(template, complex) else (int, float, complex)):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def shape_inputs(inputs: list[list[Any]], assertion: str, entry_point: str) -> list[list[Any]]:
    """Every argument list of `inputs` with the argument types of the task's example calls (unchanged if none).

    An input that some example call shows (same values up to container types) takes that call's types; any
    other input takes the first call's.
    """
    calls = example_calls(assertion, entry_point)
    if not calls:
        return inputs
    by_json = {_json_form(call): call for call in reversed(calls)}
    shaped = []
    for args in inputs:
        example = by_json.get(_json_form(args), calls[0])
        shaped.append([shape_like(a, example[i], argument=True) if i < len(example) else a for i, a in enumerate(args)])
    return shaped


def _json_form(value: Any) -> str:
    return json.dumps(value, default=repr, sort_keys=False)


# ---------------------------------------------------------------- the shipped expected-outputs file


def load_expected(path: str | Path) -> dict[str, Mapping[str, str]]:
    """task_id -> its row of the expected-outputs JSONL: {"inputs", "expected"} as codec text, or {"excluded"}."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
        lines = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8").splitlines()
    except OSError as err:
        raise UserError(
            f"expected_file {path} could not be read ({err}): run task_configs/mbpp/make_mbpp_plus_expected.py"
        ) from None
    table = {}
    for line in lines:
        if line.strip():
            row = json.loads(line)
            table[row["task_id"]] = row
    return table
