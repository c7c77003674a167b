"""Plain-data codec: the only way values cross the sandbox boundary.

Untrusted code can return objects whose ``__eq__`` always says True, subclasses of ``int`` with a forged
``__eq__``, or bytes crafted to look like anything. So every value leaving a sandboxed program is turned into
tagged JSON text and rebuilt on the trusted side from builtin types only (``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, ``bytes``, ``list``, ``tuple``, ``set``, ``frozenset``, ``dict``). The trusted side then
compares rebuilt values with Python's own builtin ``==``, which the untrusted process cannot influence.

Wire format (JSON): ``null``/``true``/``false``/ints/finite floats/strings stand for themselves; containers and
everything else are arrays whose first element is a one-letter tag:
``["l", *items]`` list, ``["t", *items]`` tuple, ``["s", *items]`` set, ``["f", *items]`` frozenset,
``["d", [k, v], ...]`` dict, ``["b", "hex"]`` bytes, ``["c", re, im]`` complex, ``["F", "nan"|"inf"|"-inf"]``
non-finite float, ``["i", "-1f"]`` an int beyond 2**53 in hex, ``["T", "int"]`` a builtin type (an argument such
as ``remove_datatype(t, int)``), ``["r", id]`` an opaque reference to an object kept inside the sandbox.

This module is stdlib-only: it is also loaded inside the sandbox worker.
"""

import json
import math

MAX_DEPTH = 200
_BUILTIN_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, bool, list, tuple, set, frozenset, dict,
                                          type(None), object, type)}
_BIG = 1 << 53  # larger ints travel as hex: decimal str() of huge ints is capped (and slow) in Python >= 3.11


class NotPlainData(TypeError):
    """The value contains something other than builtin plain data (or is nested too deeply)."""


def _float(x):
    if math.isfinite(x):
        return float(x)
    return ["F", "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")]


def to_tree(value, depth=0):
    """Plain data -> JSON-able tree. Subclasses of builtins are flattened to the builtin (their methods are
    dropped on purpose); numpy scalars become Python scalars; anything else raises NotPlainData."""
    if depth > MAX_DEPTH:
        raise NotPlainData("value nested too deeply")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, bool):  # numpy.bool_ is not a bool subclass, but keep subclasses of bool honest
        return bool(value)
    if isinstance(value, int):
        n = int.__index__(value)
        return n if -_BIG < n < _BIG else ["i", format(n, "x")]
    if isinstance(value, float):
        return _float(float.__float__(value))
    if isinstance(value, str):
        return str.__str__(value)
    d = depth + 1
    if isinstance(value, tuple):
        return ["t"] + [to_tree(v, d) for v in tuple.__iter__(value)]
    if isinstance(value, list):
        return ["l"] + [to_tree(v, d) for v in list.__iter__(value)]
    if isinstance(value, frozenset):
        return ["f"] + [to_tree(v, d) for v in frozenset.__iter__(value)]
    if isinstance(value, set):
        return ["s"] + [to_tree(v, d) for v in set.__iter__(value)]
    if isinstance(value, dict):
        return ["d"] + [[to_tree(k, d), to_tree(dict.__getitem__(value, k), d)] for k in dict.__iter__(value)]
    if isinstance(value, (bytes, bytearray)):
        return ["b", bytes(value).hex()]
    if isinstance(value, complex):
        return ["c", _float(value.real), _float(value.imag)]
    if isinstance(value, type) and _BUILTIN_TYPES.get(getattr(value, "__name__", None)) is value:
        return ["T", value.__name__]
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return to_tree(value.item(), d)
    raise NotPlainData(f"not plain data: {type(value).__name__}")


def encode(value):
    """Plain data -> wire text."""
    return json.dumps(to_tree(value), separators=(",", ":"))


def _scalar_float(node):
    if isinstance(node, float) or (isinstance(node, int) and not isinstance(node, bool)):
        return float(node)
    if isinstance(node, list) and len(node) == 2 and node[0] == "F" and node[1] in ("nan", "inf", "-inf"):
        return float(node[1])
    raise NotPlainData("bad float")


def from_tree(node, depth=0, make_ref=None):
    """JSON tree -> value built from builtin types only. ``make_ref(id)`` turns ``["r", id]`` into a proxy;
    without it references are rejected."""
    if depth > MAX_DEPTH:
        raise NotPlainData("value nested too deeply")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise NotPlainData("malformed value")
    tag, rest, d = node[0], node[1:], depth + 1
    if tag == "l":
        return [from_tree(v, d, make_ref) for v in rest]
    if tag == "t":
        return tuple(from_tree(v, d, make_ref) for v in rest)
    try:
        if tag == "s":
            return {from_tree(v, d, make_ref) for v in rest}
        if tag == "f":
            return frozenset(from_tree(v, d, make_ref) for v in rest)
        if tag == "d":
            out = {}
            for pair in rest:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise NotPlainData("malformed dict item")
                out[from_tree(pair[0], d, make_ref)] = from_tree(pair[1], d, make_ref)
            return out
    except TypeError as e:  # unhashable element inside a set or dict key
        raise NotPlainData(str(e)) from None
    if tag == "b" and len(rest) == 1 and isinstance(rest[0], str):
        try:
            return bytes.fromhex(rest[0])
        except ValueError:
            raise NotPlainData("bad bytes") from None
    if tag == "i" and len(rest) == 1 and isinstance(rest[0], str) and len(rest[0]) <= 1 << 20:
        try:
            return int(rest[0], 16)
        except ValueError:
            raise NotPlainData("bad int") from None
    if tag == "c" and len(rest) == 2:
        return complex(_scalar_float(rest[0]), _scalar_float(rest[1]))
    if tag == "F" and len(rest) == 1:
        return _scalar_float(node)
    if tag == "T" and len(rest) == 1 and rest[0] in _BUILTIN_TYPES:
        return _BUILTIN_TYPES[rest[0]]
    if tag == "r" and len(rest) == 1 and isinstance(rest[0], int) and make_ref is not None:
        return make_ref(rest[0])
    raise NotPlainData(f"unknown tag {tag!r}")


def decode(text, make_ref=None):
    """Wire text -> plain data. Raises NotPlainData on anything malformed (also huge ints or deep nesting)."""
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise NotPlainData(f"malformed value text: {str(e)[:80]}") from None
    try:
        return from_tree(tree, 0, make_ref)
    except RecursionError:
        raise NotPlainData("value nested too deeply") from None
