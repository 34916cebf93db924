import contextlib
import pickle
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from s2render.core.bands import normalize_band
from s2render.core.errors import SpecError
from s2render.core.expression import (
    EXPRESSION_BANDS,
    FUNCTIONS,
    MAX_LENGTH,
    ExpressionError,
    normalized_difference,
    parse_expression,
)

SHAPE = (3, 5)


def _band_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Reflectance-like float32 arrays for every band, with a few NaN (no data) pixels."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for band in EXPRESSION_BANDS:
        values = rng.uniform(-0.05, 1.2, SHAPE).astype(np.float32)
        values[rng.random(SHAPE) < 0.15] = np.nan
        arrays[band] = values
    arrays["SCL"] = rng.integers(0, 12, SHAPE).astype(np.float32)
    return arrays


ARRAYS = _band_arrays()


@pytest.mark.parametrize(
    ("text", "canonical", "bands"),
    [
        ("(B08-B04)/(B08+B04)", "(B08 - B04) / (B08 + B04)", ("B04", "B08")),
        ("b8a - b11", "B8A - B11", ("B8A", "B11")),
        ("B4 + b3", "B04 + B03", ("B03", "B04")),
        ("  B04  ", "B04", ("B04",)),
        ("where(SCL == 6, 1, 0)", "where(SCL == 6, 1, 0)", ("SCL",)),
        ("CLIP(B04, 0, 0.3)", "clip(B04, 0, 0.3)", ("B04",)),
        ("2.5 * B02 ** 0.5", "2.5 * B02 ** 0.5", ("B02",)),
        ("-B12", "-B12", ("B12",)),
        ("0.1 < B04 <= 0.3", "0.1 < B04 <= 0.3", ("B04",)),
        (
            "max(B02, B03, B04) - min(B02, B03)",
            "max(B02, B03, B04) - min(B02, B03)",
            ("B02", "B03", "B04"),
        ),
        ("sqrt(abs(log(exp(B05))))", "sqrt(abs(log(exp(B05))))", ("B05",)),
        ("B01 != B10", "B01 != B10", ("B01", "B10")),
        ("1", "1", ()),
    ],
)
def test_valid_expressions_parse_to_canonical_text_and_bands(text, canonical, bands):
    expression = parse_expression(text)
    assert (expression.text, expression.bands) == (canonical, bands)


def test_bands_are_listed_in_esa_order_not_alphabetically():
    assert parse_expression("B8A + B12 + B08 + B09").bands == ("B08", "B8A", "B09", "B12")


def test_two_spellings_of_one_formula_are_equal():
    assert parse_expression("(b08-b4)/(b8+B04)") == parse_expression("(B08 - B04) / (B08 + B04)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("B04 +", "at the end"),
        ("B04 + * 2", "column 7"),
        ("B04 B03", "column 5"),
        ("B04.real", "attribute access"),
        ("__import__('os')", "__import__() is not an allowed function"),
        ("B04[0]", "indexing"),
        ("'B04'", "strings are not allowed"),
        ("f'{B04}'", "strings are not allowed"),
        ("lambda: B04", "lambda"),
        ("ndvi", "unknown name(s) 'ndvi'"),
        ("B4 + B13", "'B13'"),
        ("foo + bar * foo", "'foo', 'bar';"),
        ("B04 % 2", "operator % is not allowed"),
        ("~B04", "operator ~ is not allowed"),
        ("sqrt", "call it as sqrt(x)"),
        ("B04(1)", "B04() is a band"),
        ("sqr(B04)", "did you mean sqrt"),
        ("min(B04)", "min() got 1 argument"),
        ("where(B04, 1)", "where() got 2 argument"),
        ("sqrt(x=B04)", "keyword arguments"),
        ("B04 if B03 else B02", "use where"),
        ("B04 and B03", "'and'/'or'"),
        ("True", "constant True"),
        ("[B04, B03]", "List syntax"),
        ("1" + "0" * 400, "too large"),
        ("1e400 * B04", "too large"),
        ("B04\x00", "control character at column 4"),
        ("x" * (MAX_LENGTH + 1), "limit is 1000"),
        ("-" * 100 + "B04", "nests deeper"),
        ("(" * 300 + "B04" + ")" * 300, "not valid"),
    ],
)
def test_invalid_expressions_are_rejected_with_the_reason(text, message):
    with pytest.raises(ExpressionError) as err:
        parse_expression(text)
    assert message in str(err.value)


def test_expression_error_is_a_spec_error_on_the_expression_field():
    with pytest.raises(SpecError) as err:
        parse_expression("B99")
    assert isinstance(err.value, ValueError) and err.value.field == "expression"


def test_unknown_name_error_lists_the_allowed_names():
    with pytest.raises(ExpressionError) as err:
        parse_expression("red - nir")
    message = str(err.value)
    assert all(name in message for name in (*EXPRESSION_BANDS, *FUNCTIONS))


def test_unknown_name_error_suggests_close_band_names():
    with pytest.raises(ExpressionError, match="did you mean B8A"):
        parse_expression("B8B - B04")


def test_ndvi_on_known_reflectances():
    ndvi = parse_expression("(B08 - B04) / (B08 + B04)")
    b08 = np.array([[0.5, 0.3], [0.05, 0.4]], dtype=np.float32)
    b04 = np.array([[0.1, 0.3], [0.15, 0.0]], dtype=np.float32)
    expected = np.array([[0.4 / 0.6, 0.0], [-0.5, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(ndvi.evaluate({"B08": b08, "B04": b04}), expected, rtol=1e-6)


def test_normalized_difference_is_the_ndvi_formula():
    assert normalized_difference("b08", "b4") == parse_expression("(B08 - B04) / (B08 + B04)")


@pytest.mark.parametrize(
    "text",
    [
        "B04 / (B03 - B03)",  # 0-denominator everywhere
        "(B04 - B04) / (B03 - B03)",  # 0 / 0
        "sqrt(-1 - B04 * B04)",
        "log(B04 - B04)",
        "log(-1 - abs(B04))",
        "exp(1000 + B04)",  # overflows float32
        "(0 * B04) ** -1",
        "1e39 + B04",  # constant beyond float32
    ],
)
def test_invalid_maths_gives_no_data_without_a_warning(text):
    b04 = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = parse_expression(text).evaluate({"B04": b04, "B03": b04})
    assert np.isnan(result).all()


@pytest.mark.parametrize(
    "text", ["B04 + 1", "B04 > 0.2", "where(B04 > 0.2, 1, 0)", "clip(B04, 0, 1)", "max(B04, 1)"]
)
def test_no_data_propagates_through_every_operation(text):
    b04 = np.array([np.nan, 0.5], dtype=np.float32)
    result = parse_expression(text).evaluate({"B04": b04})
    assert np.isnan(result[0]) and not np.isnan(result[1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B04 > 0.2", [0.0, 1.0]),
        ("0.05 < B04 < 0.2", [1.0, 0.0]),
        ("where(B04 >= 0.3, B04, -1)", [-1.0, 0.3]),
        ("clip(B04, 0.15, 0.25)", [0.15, 0.25]),
        ("min(B04, 0.2, 0.5)", [0.1, 0.2]),
    ],
)
def test_comparisons_and_functions_are_elementwise(text, expected):
    b04 = np.array([0.1, 0.3], dtype=np.float32)
    np.testing.assert_allclose(parse_expression(text).evaluate({"B04": b04}), expected, rtol=1e-6)


def test_result_is_a_fresh_float32_array_even_for_integer_input():
    scl = np.array([[4, 6]], dtype=np.uint8)
    result = parse_expression("SCL").evaluate({"scl": scl})
    result[0, 0] = 99
    assert result.dtype == np.float32 and scl[0, 0] == 4


def test_a_band_free_expression_takes_the_shape_of_the_inputs():
    result = parse_expression("2 * 3").evaluate({"B04": np.zeros(SHAPE, np.float32)})
    assert result.shape == SHAPE and (result == 6).all()


def test_missing_input_is_named():
    with pytest.raises(ExpressionError, match="needs B08; given: B04"):
        parse_expression("B08 - B04").evaluate({"B04": np.zeros(2)})


def test_inputs_of_different_shapes_are_rejected():
    with pytest.raises(ExpressionError, match="differ in shape"):
        parse_expression("B08 - B04").evaluate({"B04": np.zeros(2), "B08": np.zeros(3)})


def test_expression_survives_pickling_for_workers():
    expression = pickle.loads(pickle.dumps(parse_expression("sqrt(B04) * 2")))
    np.testing.assert_allclose(expression.evaluate({"B04": np.array([0.25])}), [1.0])


# --- property tests -------------------------------------------------------------------------------

_bands = st.tuples(st.sampled_from(EXPRESSION_BANDS), st.booleans()).map(
    lambda t: t[0].lower() if t[1] else t[0]
)
_numbers = st.integers(0, 10_000).map(str) | st.floats(
    -10, 10, allow_nan=False, allow_infinity=False
).map(lambda x: f"{x:.4g}")
_leaves = _bands | _numbers
_OPERATORS = ["+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!="]


def _grammar(depth: int) -> st.SearchStrategy[str]:
    """Texts from the allowed grammar, nesting at most ``depth`` levels."""
    if depth == 0:
        return _leaves
    sub = _grammar(depth - 1)
    return st.one_of(
        _leaves,
        st.tuples(sub, st.sampled_from(_OPERATORS), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda s: f"-{s}"),
        st.tuples(st.sampled_from(["sqrt", "abs", "log", "exp"]), sub).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.tuples(st.sampled_from(["where", "clip"]), sub, sub, sub).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]}, {t[3]})"
        ),
        st.tuples(st.sampled_from(["min", "max"]), st.lists(sub, min_size=2, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
    )


@settings(max_examples=200, deadline=None)
@given(_grammar(4))
def test_grammar_expressions_parse_and_evaluate_to_the_input_shape_without_warnings(text):
    assume(len(text) <= MAX_LENGTH)
    expression = parse_expression(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = expression.evaluate(ARRAYS)
    assert result.shape == SHAPE and result.dtype == np.float32
    assert not np.isinf(result).any()  # non-finite values are no data (NaN), never inf


@settings(max_examples=100, deadline=None)
@given(_grammar(3))
def test_canonical_text_parses_to_itself(text):
    expression = parse_expression(text)
    assert parse_expression(expression.text) == expression


_identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(
    lambda name: normalize_band(name) not in EXPRESSION_BANDS and name.lower() not in FUNCTIONS
)
_forbidden = _identifiers | st.sampled_from(
    [
        "B04.real",
        "B04.__class__.__mro__",
        "__import__('os')",
        "open('/etc/passwd')",
        "eval('1')",
        "getattr(B04, 'x')",
        "B04[0]",
        "B04[1:2]",
        "'text'",
        "b'x'",
        "f'{B04}'",
        "lambda: 1",
        "(lambda x: x)(B04)",
        "[B04]",
        "(B04, B03)",
        "{B04: 1}",
        "[x for x in B04]",
        "B04 if B03 else B02",
        "B04 or B03",
        "not B04",
        "B04 % 2",
        "B04 // 2",
        "B04 @ B03",
        "B04 & B03",
        "B04 is B03",
        "B04 in B03",
        "True",
        "None",
        "...",
        "1j",
        "(B04 := 1)",
        "sqrt(x=B04)",
        "sqrt(B04)(1)",
    ]
)
_TEMPLATES = ["{f}", "{v} + {f}", "{f} * {v}", "sqrt({f})", "where({v}, {f}, 1)", "max({v}, {f})"]


@settings(max_examples=300, deadline=None)
@given(_grammar(2), _forbidden, st.sampled_from(_TEMPLATES))
def test_anything_outside_the_grammar_is_rejected(valid, forbidden, template):
    with pytest.raises(ExpressionError):
        parse_expression(template.format(v=valid, f=forbidden))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_parses_or_raises_expression_error_only(text):
    with contextlib.suppress(ExpressionError):
        parse_expression(text)


def _finite_or_nan(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return np.where(np.isfinite(x), x, np.float32(np.nan))


_NUMPY_OPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
}
Tree = tuple[str, Callable[[dict[str, np.ndarray]], np.ndarray]]


def _arithmetic(depth: int) -> st.SearchStrategy[Tree]:
    """Arithmetic trees as (text, reference computation with numpy)."""
    leaves = st.one_of(
        st.sampled_from(EXPRESSION_BANDS).map(lambda b: (b, lambda d, b=b: d[b])),
        _numbers.map(lambda s: (s, lambda d, s=s: np.float32(float(s)))),
    )
    if depth == 0:
        return leaves
    sub = _arithmetic(depth - 1)

    def binary(t: tuple[Tree, str, Tree]) -> Tree:
        (lt, lf), op, (rt, rf) = t
        return f"({lt} {op} {rt})", lambda d: _finite_or_nan(_NUMPY_OPS[op](lf(d), rf(d)))

    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(list(_NUMPY_OPS)), sub).map(binary),
        sub.map(lambda t: (f"-{t[0]}", lambda d: np.negative(t[1](d)))),
    )


@settings(max_examples=200, deadline=None)
@given(_arithmetic(4))
def test_arithmetic_matches_a_numpy_reference(tree):
    text, reference = tree
    with np.errstate(all="ignore"):
        expected = np.broadcast_to(reference(ARRAYS), SHAPE)
    result = parse_expression(text).evaluate(ARRAYS)
    np.testing.assert_allclose(result, expected, rtol=1e-6, equal_nan=True)
