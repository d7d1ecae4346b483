import math
from decimal import Decimal

import pytest
from allora_sdk.loss_methods import (
    absolute_error_loss,
    binary_cross_entropy_loss,
    get_default_loss_fn,
    log_cosh_loss,
    make_bce_loss,
    make_huber_loss,
    make_poisson_loss,
    make_zptae_loss,
    make_ztae_loss,
    squared_error_loss,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.truth import losses
from bot.truth.losses import LossError, compute_loss, format_plain, is_never_negative, make_loss, resolve_method

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
positive = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)
stds = st.floats(min_value=1e-4, max_value=10.0)

STD_OPTIONS = {"std": "0.01"}


def domain(method: str) -> tuple[st.SearchStrategy[float], st.SearchStrategy[float]]:
    if method == "bce":
        return unit, unit
    if method == "poisson":
        return positive, positive
    return values, values


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("method", sorted(m for m, spec in losses.LOSS_METHODS.items() if spec.never_negative))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_never_negative_where_claimed(method, data):
    ys, ps = domain(method)
    y, p = data.draw(ys), data.draw(ps)
    loss = compute_loss(method, y, p, STD_OPTIONS)
    assert loss >= 0.0 and math.isfinite(loss)


@pytest.mark.parametrize("method", sorted(m for m, spec in losses.LOSS_METHODS.items() if spec.zero_at_perfect))
@settings(max_examples=30, deadline=None)
@given(y=values)
def test_zero_at_perfect_prediction(method, y):
    assert compute_loss(method, y, y, STD_OPTIONS) == 0.0


@settings(max_examples=10, deadline=None)
@given(y=st.sampled_from([0.0, 1.0]))
def test_bce_is_near_zero_for_a_certain_correct_prediction(y):
    assert compute_loss("bce", y, y) < 1e-12


def test_poisson_can_be_negative_as_declared():
    assert not is_never_negative("poisson")
    assert compute_loss("poisson", 5.0, 4.0) < 0


# --- agreement with allora-sdk's shipped loss functions ------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(y=values, p=values)
def test_sqe_abse_logcosh_agree_with_sdk(y, p):
    assert close(compute_loss("sqe", y, p), squared_error_loss(y, p))
    assert close(compute_loss("mse", y, p), get_default_loss_fn("mse")(y, p))
    assert close(compute_loss("abse", y, p), absolute_error_loss(y, p))
    assert close(compute_loss("mae", y, p), get_default_loss_fn("mae")(y, p))
    # the SDK evaluates log(cosh(e)) directly: fine except where cosh rounds to 1.0 (|e| < ~1e-8), where it gives 0
    assert math.isclose(compute_loss("logcosh", y, p), log_cosh_loss(y, p), rel_tol=1e-9, abs_tol=1e-15)


@settings(max_examples=80, deadline=None)
@given(y=values, p=values, delta=st.floats(min_value=1e-3, max_value=1e3))
def test_huber_agrees_with_sdk(y, p, delta):
    assert close(compute_loss("huber", y, p, {"delta": str(delta)}), make_huber_loss(delta)(y, p))


@settings(max_examples=80, deadline=None)
@given(y=unit, p=unit)
def test_bce_agrees_with_sdk(y, p):
    assert close(compute_loss("bce", y, p), binary_cross_entropy_loss(y, p))
    assert close(compute_loss("bce", y, p, {"epsilon": "1e-7"}), make_bce_loss(1e-7)(y, p))


@settings(max_examples=80, deadline=None)
@given(y=values, p=values, std=stds, mean=st.floats(min_value=-1, max_value=1))
def test_ztae_and_zptae_agree_with_sdk(y, p, std, mean):
    opts = {"std": repr(std), "mean": repr(mean)}
    assert close(compute_loss("ztae", y, p, opts), make_ztae_loss(std, mean)(y, p))
    small_y, small_p = y / 1e5, p / 1e5  # keep the gamma=4 penalty term in float range
    assert close(compute_loss("zptae", small_y, small_p, opts), make_zptae_loss(std, mean)(small_y, small_p))


@settings(max_examples=80, deadline=None)
@given(y=positive, p=positive)
def test_poisson_agrees_with_sdk(y, p):
    assert close(compute_loss("poisson", y, p), make_poisson_loss()(y, p))


# --- ztae std ------------------------------------------------------------------------------------------------------


def test_ztae_formula_and_std_from_recent_returns():
    returns = [0.001, -0.002, 0.0015, -0.0005, 0.0]
    std = losses.std_of(returns)
    mean = sum(returns) / len(returns)
    assert math.isclose(std, math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)))
    expected = abs(math.tanh(0.002 / std) - math.tanh(-0.001 / std))
    assert math.isclose(compute_loss("ztae", 0.002, -0.001, returns=returns), expected)
    assert compute_loss("ztae", 0.002, -0.001, {"std": "0.5"}, returns=returns) == pytest.approx(
        abs(math.tanh(0.004) - math.tanh(-0.002)))  # an explicit std wins
    assert compute_loss("ztae", 1e9, -1e9, {"std": "1e-9"}) == 2.0  # bounded


@pytest.mark.parametrize("bad", [None, {}, {"std": "0"}, {"std": "-1"}, {"std": "nan"}, {"std": "abc"}])
def test_ztae_requires_a_real_std(bad):
    with pytest.raises(LossError):
        make_loss("ztae", bad)
    with pytest.raises(LossError):
        losses.std_of([0.01])
    with pytest.raises(LossError):
        losses.std_of([0.01, 0.01, 0.01])


# --- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", sorted(losses.LOSS_METHODS))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, Decimal("NaN"), Decimal("Infinity"), "nan", "1e999",
                                 "abc", None, True])
def test_nan_and_inf_inputs_are_rejected(method, bad):
    fn = make_loss(method, STD_OPTIONS)
    with pytest.raises(LossError):
        fn(bad, 0.5)
    with pytest.raises(LossError):
        fn(0.5, bad)


def test_overflow_is_an_error_not_inf():
    with pytest.raises(LossError):
        compute_loss("sqe", 1e200, -1e200)
    with pytest.raises(LossError):
        compute_loss("abse", 1.7e308, -1.7e308)


def test_decimal_and_string_inputs():
    assert compute_loss("sqe", Decimal("0.01"), Decimal("0.02")) == pytest.approx(1e-4)
    assert compute_loss("abse", "64609.5", '"64600.5"') == pytest.approx(9.0)


def test_domain_errors():
    with pytest.raises(LossError, match="bce"):
        compute_loss("bce", 1.5, 0.5)
    with pytest.raises(LossError, match="poisson"):
        compute_loss("poisson", -1.0, 0.5)
    with pytest.raises(LossError, match="delta"):
        make_loss("huber", {"delta": "0"})


def test_registry_aliases_and_unknown_methods():
    assert resolve_method("MSE").name == "sqe"
    assert resolve_method(" mae ").name == "abse"
    assert resolve_method("log_cosh").name == "logcosh"
    assert resolve_method("binary_cross_entropy").name == "bce"
    assert all(is_never_negative(m) for m in ("sqe", "abse", "huber", "logcosh", "bce", "ztae", "zptae"))
    with pytest.raises(losses.UnknownLossMethodError, match="supported"):
        resolve_method("rmsle")
    assert losses.method_from_options({"loss_method": "huber", "delta": "1.0"}) == "huber"
    assert losses.method_from_options({"method": "sqe"}) == "sqe"
    assert losses.method_from_options({}, "abse") == "abse"


def test_format_plain():
    assert format_plain(2.5e-05) == "0.000025"
    assert format_plain(0.0) == "0"
    assert format_plain(-0.0) == "0"
    assert format_plain(1e20) == "100000000000000000000"
    assert format_plain(Decimal("1.2300")) == "1.23"
    with pytest.raises(LossError):
        format_plain(math.nan)
