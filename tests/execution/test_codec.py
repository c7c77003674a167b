"""The plain-data codec: lossless for builtin data, refuses everything else, and decodes hostile text safely."""

import json
import math
import time

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


M61 = (1 << 61) - 1  # ints k * M61 all hash to 0


@pytest.mark.parametrize("tag", ["s", "f", "l", "t", "d"])
def test_hash_flooding_is_refused_in_linear_time(tag):
    """80,000 distinct ints with one hash took 27.7 s to rebuild as a set; now they are refused at once. (The text
    is written directly: building such a set here would take as long.)"""
    items = [["i", format(k * M61, "x")] for k in range(80_000)]
    text = json.dumps([tag] + ([[k, 0] for k in items] if tag == "d" else items))
    t0 = time.perf_counter()
    with pytest.raises(codec.NotPlainData, match="hash"):
        codec.decode(text)
    assert time.perf_counter() - t0 < 2.0


def test_flooding_through_tuples_and_nested_levels_is_bounded():
    tuples = json.dumps(["s"] + [["t", ["i", format(k * M61, "x")], 1] for k in range(5_000)])
    with pytest.raises(codec.NotPlainData, match="hash"):
        codec.decode(tuples)
    chain = tuple(range(50_000))  # hashing would redo the big tuple at each of 150 wide levels
    for _ in range(150):
        chain = tuple([0] * 64 + [chain])
    t0 = time.perf_counter()
    with pytest.raises(codec.NotPlainData, match="expensive"):
        codec.decode(codec.encode(chain))
    assert time.perf_counter() - t0 < 2.0


def test_legitimate_large_values_decode():
    values = [list(range(100_000)) * 2, [1] * 100_000, {k * M61 for k in range(codec.MAX_SAME_HASH)} | set(range(500)),
              [(i, str(i)) for i in range(20_000)], {str(i): [i] * 3 for i in range(20_000)}]
    for value in values:
        assert codec.decode(codec.encode(value)) == value


@given(values)
def test_canonical_text_depends_on_the_value_only(value):
    back = codec.decode(codec.encode(value))
    assert codec.canonical(back) == codec.canonical(value)
    assert same(codec.decode(codec.canonical(value)), value)


def test_canonical_text_orders_sets_and_dicts_and_keeps_types():
    assert codec.canonical({3, 1, 2}) == codec.canonical({2, 3, 1}) == '["s",1,2,3]'
    assert codec.canonical({"b": 1, "a": 2}) == codec.canonical({"a": 2, "b": 1})
    assert len({codec.canonical(v) for v in (1, 1.0, True, -0.0, 0.0)}) == 5
    assert codec.canonical_reply(["s", 1, 1, ["i", "2"]]) == '["s",1,2]'  # a crafted tree gets the value's text
    assert codec.canonical_reply(["r", 17]) == '["r",0]'


def test_preview_is_short_for_huge_values():
    assert codec.preview(10 ** 100_000) == "<int of 332193 bits>"
    assert len(codec.preview(list(range(10 ** 6)))) < 100
    assert codec.preview([1, "a"]) == "[1, 'a']"
