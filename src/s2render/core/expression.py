"""Band maths: a small, safe expression language over Sentinel-2 band names.

Text is parsed with :mod:`ast` and checked node by node against an allow-list (numbers, band
names, ``+ - * / **``, unary minus, comparisons, and the elementwise functions ``where``, ``clip``,
``sqrt``, ``abs``, ``log``, ``exp``, ``min``, ``max``); nothing is ever handed to ``eval``.

Values are float32 reflectance with NaN as no data. Every non-finite intermediate (division by
zero, square root of a negative, log of 0, overflow) becomes NaN, and NaN propagates through every
operation, comparisons included, so a no-data pixel never turns back into a number.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from s2render.core.bands import SPECTRAL_BANDS, normalize_band
from s2render.core.errors import SpecError

MAX_LENGTH = 1000
# Deep enough for any hand-written index (EVI nests ~6 levels, a 12-band sum 12), shallow enough
# that the recursive checker and evaluator stay far below Python's recursion limit.
MAX_DEPTH = 64

# Catalogue order (ESA's band order: B08 before B8A), which is also the order of ``.bands``.
EXPRESSION_BANDS: tuple[str, ...] = (*(b.name for b in SPECTRAL_BANDS), "SCL")
_BAND_ORDER = {name: i for i, name in enumerate(EXPRESSION_BANDS)}

Value = np.ndarray
_NAN = np.float32(np.nan)


class ExpressionError(SpecError):
    """A band-maths expression is malformed, uses something outside the allow-list, or lacks
    input arrays."""

    def __init__(self, message: str, *, field: str | None = "expression") -> None:
        super().__init__(message, field=field)


def _finite(x: Value) -> Value:
    """Turn ±inf into NaN (no data); ``x`` must be a fresh result, it is changed in place."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 0:
        return x if np.isfinite(x) else np.asarray(_NAN)
    x[~np.isfinite(x)] = _NAN
    return x


def _compare(op: Callable[[Value, Value], Value], a: Value, b: Value) -> Value:
    """1.0 where true, 0.0 where false, NaN where either side is no data."""
    truth = np.asarray(op(a, b), dtype=np.float32)
    return np.where(np.isnan(a) | np.isnan(b), _NAN, truth)


def _where(cond: Value, a: Value, b: Value) -> Value:
    return np.where(np.isnan(cond), _NAN, np.where(cond != 0, a, b))


def _clip(x: Value, lo: Value, hi: Value) -> Value:
    # np.minimum/np.maximum propagate NaN from every operand; np.clip documents no NaN bounds.
    return np.minimum(np.maximum(x, lo), hi)


_BINARY: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}
_UNARY: dict[type[ast.unaryop], Callable[[Value], Value]] = {
    ast.USub: np.negative,
    ast.UAdd: np.positive,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Value, Value], Value]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}


@dataclass(frozen=True)
class _Function:
    min_args: int
    max_args: int | None  # None: any number from min_args on
    apply: Callable[..., Value]
    usage: str


FUNCTIONS: dict[str, _Function] = {
    "abs": _Function(1, 1, np.abs, "abs(x)"),
    "clip": _Function(3, 3, _clip, "clip(x, lo, hi)"),
    "exp": _Function(1, 1, np.exp, "exp(x)"),
    "log": _Function(1, 1, np.log, "log(x)"),
    "max": _Function(2, None, lambda *xs: functools.reduce(np.maximum, xs), "max(a, b, ...)"),
    "min": _Function(2, None, lambda *xs: functools.reduce(np.minimum, xs), "min(a, b, ...)"),
    "sqrt": _Function(1, 1, np.sqrt, "sqrt(x)"),
    "where": _Function(3, 3, _where, "where(cond, a, b)"),
}

_OPERATOR_SYMBOLS = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Not: "not",
    ast.Invert: "~",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}
_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (x.y) is not allowed",
    ast.Subscript: "indexing (x[...]) is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.BoolOp: "'and'/'or' are not allowed (use min/max of comparisons, or where)",
    ast.IfExp: "'a if c else b' is not allowed (use where(c, a, b))",
    ast.JoinedStr: "strings are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.Starred: "unpacking (*x) is not allowed",
}
_ALLOWED_TEXT = (
    f"bands {', '.join(EXPRESSION_BANDS)}; functions {', '.join(FUNCTIONS)}; "
    "operators + - * / ** and comparisons < <= > >= == !="
)


def _quote(text: str, limit: int = 80) -> str:
    """``text`` quoted for an error message, shortened: a 1000-character echo helps nobody."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _resolve_band(name: str) -> str | None:
    band = normalize_band(name)  # b4 -> B04, 8a -> B8A
    return band if band in _BAND_ORDER else None


class _Checker:
    """Walks a parsed tree, rejects what is not allowed, normalises names in place."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.bands: set[str] = set()
        self.unknown: list[str] = []

    def fail(self, what: str) -> ExpressionError:
        return ExpressionError(
            f"expression {_quote(self.text)}: {what}; allowed are {_ALLOWED_TEXT}"
        )

    def check(self, node: ast.expr, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression {_quote(self.text)} nests deeper than {MAX_DEPTH} levels; "
                "split it or remove redundant parentheses"
            )
        if isinstance(node, ast.Constant):
            self.check_constant(node)
        elif isinstance(node, ast.Name):
            self.check_name(node)
        elif isinstance(node, ast.BinOp):
            self.check_operator(node.op, _BINARY)
            self.check(node.left, depth + 1)
            self.check(node.right, depth + 1)
        elif isinstance(node, ast.UnaryOp):
            self.check_operator(node.op, _UNARY)
            self.check(node.operand, depth + 1)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                self.check_operator(op, _COMPARE)
            for child in (node.left, *node.comparators):
                self.check(child, depth + 1)
        elif isinstance(node, ast.Call):
            self.check_call(node)
            for arg in node.args:
                self.check(arg, depth + 1)
        else:
            what = _FORBIDDEN_NODES.get(type(node), f"{type(node).__name__} syntax is not allowed")
            raise self.fail(what)

    def check_constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "strings are" if isinstance(value, str | bytes) else f"the constant {value!r} is"
            raise self.fail(f"{kind} not allowed")
        try:
            finite = math.isfinite(float(value))  # 1e400 parses as inf, 10**400 as an int
        except OverflowError:
            finite = False
        if not finite:
            raise self.fail(f"the number {str(value)[:20]} is too large")

    def check_name(self, node: ast.Name) -> None:
        band = _resolve_band(node.id)
        if band is not None:
            node.id = band
            self.bands.add(band)
        elif node.id.lower() in FUNCTIONS:
            usage = FUNCTIONS[node.id.lower()].usage
            raise ExpressionError(
                f"expression {_quote(self.text)}: {node.id} is a function; call it as {usage}"
            )
        elif node.id not in self.unknown:
            self.unknown.append(node.id)

    def check_operator(self, op: ast.AST, allowed: Mapping[type, object]) -> None:
        if type(op) not in allowed:
            symbol = _OPERATOR_SYMBOLS.get(type(op), type(op).__name__)
            raise self.fail(f"the operator {symbol} is not allowed")

    def check_call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only named functions can be called")
        name = node.func.id.lower()
        function = FUNCTIONS.get(name)
        if function is None:
            kind = (
                "a band, not a function"
                if _resolve_band(node.func.id)
                else "not an allowed function"
            )
            close = difflib.get_close_matches(name, FUNCTIONS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self.fail(f"{node.func.id}() is {kind}{hint}")
        if node.keywords:
            raise self.fail(f"keyword arguments are not allowed in {function.usage}")
        count = len(node.args)
        if count < function.min_args or (
            function.max_args is not None and count > function.max_args
        ):
            raise ExpressionError(
                f"expression {_quote(self.text)}: {name}() got {count} argument(s); "
                f"use {function.usage}"
            )
        node.func.id = name

    def raise_unknown(self) -> None:
        if not self.unknown:
            return
        hints = []
        for name in self.unknown:
            # Suggest bands only for band-like names: 'bar' is not a misspelt B8A.
            looks_like_band = name[:1] in "bB" and name[1:2].isdigit()
            bands = EXPRESSION_BANDS if looks_like_band else ()
            close = difflib.get_close_matches(name.upper(), bands, n=2, cutoff=0.5)
            close += difflib.get_close_matches(name.lower(), FUNCTIONS, n=1, cutoff=0.6)
            hints.append(f"{name!r} (did you mean {' or '.join(close)}?)" if close else repr(name))
        raise ExpressionError(
            f"expression {_quote(self.text)} uses unknown name(s) {', '.join(hints)}; allowed: "
            + _ALLOWED_TEXT
        )


def _evaluate(node: ast.expr, data: Mapping[str, Value]) -> Value:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # the checker let only numbers through
        return _finite(np.asarray(float(node.value), dtype=np.float32))  # 1e39 overflows float32
    if isinstance(node, ast.Name):
        return data[node.id]
    if isinstance(node, ast.BinOp):
        op = _BINARY[type(node.op)]
        return _finite(op(_evaluate(node.left, data), _evaluate(node.right, data)))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, data))
    if isinstance(node, ast.Compare):
        values = [_evaluate(child, data) for child in (node.left, *node.comparators)]
        # a < b < c means (a < b) and (b < c); min is 'and' on 1/0/NaN truth values.
        truths = [
            _compare(_COMPARE[type(op)], a, b)
            for op, a, b in zip(node.ops, values, values[1:], strict=False)
        ]
        return functools.reduce(np.minimum, truths)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_evaluate(arg, data) for arg in node.args]
        return _finite(FUNCTIONS[node.func.id].apply(*args))
    raise AssertionError(f"unchecked node {type(node).__name__}")  # the checker rejects these


@dataclass(frozen=True)
class Expression:
    """A checked expression. ``text`` is its canonical spelling (upper-case bands, normalised
    spacing), so two spellings of one formula compare equal; ``bands`` are in ESA order."""

    text: str
    bands: tuple[str, ...]
    tree: ast.Expression = field(repr=False, compare=False, hash=False)

    def evaluate(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Compute over same-shaped arrays keyed by band name; float32, NaN = no data."""
        data: dict[str, Value] = {}
        for key, array in arrays.items():
            band = _resolve_band(key)
            if band is None:
                raise ExpressionError(
                    f"input array {key!r} is not a band name; use {', '.join(EXPRESSION_BANDS)}"
                )
            value = np.asarray(array, dtype=np.float32)
            infinite = np.isinf(value)
            data[band] = np.where(infinite, _NAN, value) if infinite.any() else value
        missing = [b for b in self.bands if b not in data]
        if missing:
            raise ExpressionError(
                f"expression {_quote(self.text)} needs {', '.join(missing)}; "
                f"given: {', '.join(sorted(data, key=_BAND_ORDER.__getitem__)) or 'nothing'}"
            )
        shapes = {value.shape for value in data.values()}
        if len(shapes) > 1:
            raise ExpressionError(
                f"expression {_quote(self.text)}: input arrays differ in shape {sorted(shapes)}; "
                "resample the bands to one grid first"
            )
        shape = shapes.pop() if shapes else ()
        with np.errstate(all="ignore"):
            result = _evaluate(self.tree.body, data)
        return np.broadcast_to(result, shape).astype(np.float32, copy=True)


def _position(source: str, err: SyntaxError) -> str:
    """Where a syntax error is, in words: column (1-based) and the text from there."""
    line, column = err.lineno or 1, err.offset or 0
    lines = source.splitlines() or [""]
    if line > len(lines) or column < 1 or column > len(lines[line - 1]):
        return "at the end (something is missing)"
    prefix = f"line {line}, " if len(lines) > 1 else ""
    return f"at {prefix}column {column} ({lines[line - 1][column - 1 :][:12]!r})"


def parse_expression(text: str) -> Expression:
    """Parse and check ``text``; raise ExpressionError naming what is wrong and what is allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"expression {text!r} is empty; write e.g. (B08 - B04) / (B08 + B04)")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    source = text.strip()
    control = next(
        (i for i, c in enumerate(source) if not c.isprintable() and c not in "\t\n"), None
    )
    if control is not None:
        raise ExpressionError(
            f"expression {_quote(source)} has a control character at column {control + 1}; "
            "remove it"
        )
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(
            f"expression {_quote(source)} is not valid {_position(source, err)}: {err.msg}"
        ) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise ExpressionError(f"expression {_quote(source)} cannot be parsed: {err}") from None
    checker = _Checker(source)
    checker.check(tree.body)
    checker.raise_unknown()
    bands = tuple(sorted(checker.bands, key=_BAND_ORDER.__getitem__))
    return Expression(text=ast.unparse(tree), bands=bands, tree=tree)


def normalized_difference(a: str, b: str) -> Expression:
    """The normalized difference ``(a - b) / (a + b)`` of two bands (NDVI is B08, B04)."""
    return parse_expression(f"({a} - {b}) / ({a} + {b})")
