"""The plain-data codec: lossless for builtin data, refuses everything else, and decodes hostile text safely."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lm_eval_tts.execution import codec

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
           | st.complex_numbers(allow_nan=False))
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=8
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.sets(hashables, max_size=4)
    | st.dictionaries(hashables, inner, max_size=4),
    max_leaves=20,
)


def same(a, b):
    """Equal with identical types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@given(values)
def test_roundtrip_keeps_values_and_types(value):
    assert same(codec.decode(codec.encode(value)), value)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -float("inf"), 10**5000, -(2**70), [int, str, type(None)]],
    ids=["nan", "inf", "-inf", "huge-int", "big-negative", "builtin-types"],
)
def test_roundtrip_special_values(value):
    back = codec.decode(codec.encode(value))
    assert (math.isnan(back) and math.isnan(value)) if value != value else back == value


def test_subclasses_are_flattened_to_builtins():
    class Sneaky(int):
        def __eq__(self, other):
            return True

    class L(list):
        pass

    back = codec.decode(codec.encode(L([Sneaky(3)])))
    assert type(back) is list and type(back[0]) is int and back[0] != 4


@pytest.mark.parametrize("value", [object(), lambda: 1, iter([1]), type("T", (), {}), [1, {2: object()}]])
def test_non_plain_data_is_refused(value):
    with pytest.raises(codec.NotPlainData):
        codec.encode(value)


@pytest.mark.parametrize(
    "text",
    ['["x", 1]', '["s", ["l", 1]]', '["d", [1]]', '["b", "zz"]', '["r", 0]', '{"a": 1}', "[" * 5000 + "]" * 5000,
     '["i", "xyz"]', '["T", "eval"]', "not json", '"' + "1" * 10 + "'"],
)
def test_malformed_or_hostile_text_is_refused(text):
    with pytest.raises(codec.NotPlainData):
        codec.decode(text)


def test_references_only_with_a_factory():
    assert codec.decode('["r", 7]', make_ref=lambda i: ("ref", i)) == ("ref", 7)
