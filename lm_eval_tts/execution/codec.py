"""Plain-data codec: the only way values cross the sandbox boundary.

Untrusted code can return objects whose ``__eq__`` always says True, subclasses of ``int`` with a forged
``__eq__``, or bytes crafted to look like anything. So every value leaving a sandboxed program is turned into
tagged JSON text and rebuilt on the trusted side from builtin types only (``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, ``bytes``, ``list``, ``tuple``, ``set``, ``frozenset``, ``dict``). The trusted side then
compares rebuilt values with Python's own builtin ``==``, which the untrusted process cannot influence.

Rebuilding is bounded in time as well as in size: a set (or dict, or a list later passed to ``set()``) of distinct
values that share one hash costs quadratic time to build in CPython (80,000 colliding ints: 27 s). ``from_tree``
refuses a container holding more than ``MAX_SAME_HASH`` distinct values with one hash, and charges the hashing it
does for that check to a budget proportional to the size of the value, so decoding stays linear.

Wire format (JSON): ``null``/``true``/``false``/ints/finite floats/strings stand for themselves; containers and
everything else are arrays whose first element is a one-letter tag:
``["l", *items]`` list, ``["t", *items]`` tuple, ``["s", *items]`` set, ``["f", *items]`` frozenset,
``["d", [k, v], ...]`` dict, ``["b", "hex"]`` bytes, ``["c", re, im]`` complex, ``["F", "nan"|"inf"|"-inf"]``
non-finite float, ``["i", "-1f"]`` an int beyond 2**53 in hex, ``["T", "int"]`` a builtin type (an argument such
as ``remove_datatype(t, int)``), ``["r", id]`` an opaque reference to an object kept inside the sandbox.
``canonical`` writes the same format with the elements of sets and the items of dicts sorted, so equal values
(in the sense of "same elements, same types") have equal text whatever order the program built them in.

This module is stdlib-only: it is also loaded inside the sandbox.
"""

import json
import math
import reprlib

MAX_DEPTH = 200
MAX_SAME_HASH = 32  # distinct values sharing one hash that a container may hold
_CHECKED_SIZE = 64  # containers up to this many elements cannot be slow to hash into a set: not checked
_HASH_BUDGET = 8  # hashing work allowed for the collision checks, in multiples of the value's node count
_BUILTIN_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, bool, list, tuple, set, frozenset, dict,
                                          type(None), object, type)}
_BIG = 1 << 53  # larger ints travel as hex: decimal str() of huge ints is capped (and slow) in Python >= 3.11


class Opaque:
    """Stands for an object the program process kept because it is not plain data (``["r", id]`` on the wire); it
    equals only itself, so it never makes a comparison succeed."""

    __slots__ = ()

    def __repr__(self):
        return "<object>"


OPAQUE = Opaque()


class NotPlainData(TypeError):
    """The value contains something other than builtin plain data (or is nested too deeply, or is built to be slow
    to decode)."""


class SlowToDecode(NotPlainData):
    """The value is built to be slow to decode (hash flooding): a program that sends one has tampered with its own
    codec, and whoever decodes its values stops listening to it."""


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
    if value is OPAQUE:
        return ["r", 0]
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


def _canonical_tree(tree):
    """A decoded value's tree with set elements and dict items in a fixed order (sorted by their own text)."""
    if not isinstance(tree, list) or not tree or tree[0] not in ("l", "t", "s", "f", "d"):
        return tree
    tag, rest = tree[0], tree[1:]
    if tag == "d":
        items = [[_canonical_tree(k), _canonical_tree(v)] for k, v in rest]
        return ["d"] + sorted(items, key=lambda kv: json.dumps(kv[0], separators=(",", ":")))
    items = [_canonical_tree(v) for v in rest]
    if tag in ("s", "f"):
        items.sort(key=lambda v: json.dumps(v, separators=(",", ":")))
    return [tag] + items


def canonical(value):
    """Plain data -> wire text that depends on the value only: sets and dicts in sorted order. Two values have the
    same canonical text iff they have the same types and elements all the way down (so ``1`` and ``1.0``, or
    ``-0.0`` and ``0.0``, differ; ``{1, 2}`` and ``{2, 1}`` do not)."""
    return json.dumps(_canonical_tree(to_tree(value)), separators=(",", ":"))


def canonical_reply(tree):
    """Canonical text of a value as a program process sent it (validated and rebuilt first, so a crafted tree
    cannot give an equal value another text); objects it kept count as ``["r",0]``."""
    if tree is None or isinstance(tree, (bool, str)) or (type(tree) is int and -_BIG < tree < _BIG):
        return json.dumps(tree)  # a scalar that stands for itself
    return canonical(from_tree(tree, make_ref=lambda _ref: OPAQUE))


def _scalar_float(node):
    if isinstance(node, float) or (isinstance(node, int) and not isinstance(node, bool)):
        return float(node)
    if isinstance(node, list) and len(node) == 2 and node[0] == "F" and node[1] in ("nan", "inf", "-inf"):
        return float(node[1])
    raise NotPlainData("bad float")


class _Decoding:
    """State of one ``from_tree`` call: nodes rebuilt so far and the hashing budget of the collision checks."""

    __slots__ = ("nodes", "hashed", "make_ref")

    def __init__(self, make_ref):
        self.nodes = 0
        self.hashed = 0
        self.make_ref = make_ref


def _check_collisions(items, sizes, state):
    """Refuse a container with more than MAX_SAME_HASH distinct hashable elements sharing one hash (building a set
    from them would take quadratic time). ``sizes[i]`` is the node count of ``items[i]``: hashing a tuple costs
    its size, so that is what the check charges to the budget."""
    if len(items) <= _CHECKED_SIZE:
        return
    by_hash = {}
    for item, size in zip(items, sizes):
        state.hashed += size if isinstance(item, (tuple, frozenset)) else 1  # hash() walks a tuple every time
        if state.hashed > _HASH_BUDGET * state.nodes + 1024:
            raise SlowToDecode("value too expensive to check for hash collisions")
        try:
            h = hash(item)
        except TypeError:  # unhashable (list, dict, set...): can never collide in a set
            continue
        by_hash.setdefault(h, []).append(item)  # a dict of ints keyed by hash values: cheap, values are spread
    for same in by_hash.values():
        if len(same) <= MAX_SAME_HASH:
            continue
        distinct = []
        for item in same:
            if not any(item == d for d in distinct):
                distinct.append(item)
                if len(distinct) > MAX_SAME_HASH:
                    raise SlowToDecode(f"more than {MAX_SAME_HASH} distinct values share one hash (hash flooding)")


def _rebuild(node, depth, state):
    if depth > MAX_DEPTH:
        raise NotPlainData("value nested too deeply")
    state.nodes += 1
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise NotPlainData("malformed value")
    tag, rest, d = node[0], node[1:], depth + 1
    if tag in ("l", "t", "s", "f"):
        items, sizes = [], []
        for v in rest:
            before = state.nodes
            items.append(_rebuild(v, d, state))
            sizes.append(state.nodes - before)
        _check_collisions(items, sizes, state)
        if tag == "l":
            return items
        if tag == "t":
            return tuple(items)
        try:
            return set(items) if tag == "s" else frozenset(items)
        except TypeError as e:  # unhashable element inside a set
            raise NotPlainData(str(e)) from None
    if tag == "d":
        keys, sizes, values = [], [], []
        for pair in rest:
            if not isinstance(pair, list) or len(pair) != 2:
                raise NotPlainData("malformed dict item")
            before = state.nodes
            keys.append(_rebuild(pair[0], d, state))
            sizes.append(state.nodes - before)
            values.append(_rebuild(pair[1], d, state))
        _check_collisions(keys, sizes, state)
        try:
            return dict(zip(keys, values))
        except TypeError as e:  # unhashable key
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
    if tag == "r" and len(rest) == 1 and isinstance(rest[0], int) and state.make_ref is not None:
        return state.make_ref(rest[0])
    raise NotPlainData(f"unknown tag {tag!r}")


def from_tree(node, make_ref=None):
    """JSON tree -> value built from builtin types only, in time linear in the tree's size. ``make_ref(id)`` turns
    ``["r", id]`` into a proxy; without it references are rejected."""
    try:
        return _rebuild(node, 0, _Decoding(make_ref))
    except RecursionError:
        raise NotPlainData("value nested too deeply") from None


def decode(text, make_ref=None):
    """Wire text -> plain data. Raises NotPlainData on anything malformed (also huge ints, deep nesting, hash
    flooding)."""
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise NotPlainData(f"malformed value text: {str(e)[:80]}") from None
    return from_tree(tree, make_ref)


class _Preview(reprlib.Repr):
    def repr_int(self, x, level):
        if x.bit_length() > 1000:  # repr() of ints beyond 4300 digits raises, and is quadratic below that
            return f"<int of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_PREVIEW = _Preview()
_PREVIEW.maxstring = _PREVIEW.maxother = 80
_PREVIEW.maxlist = _PREVIEW.maxtuple = _PREVIEW.maxset = _PREVIEW.maxfrozenset = _PREVIEW.maxdict = 8


def preview(value):
    """A short, bounded-time repr of decoded plain data for failure details (huge ints and long containers are
    abbreviated)."""
    return _PREVIEW.repr(value)
