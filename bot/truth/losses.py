"""Loss functions reputers score inferences with: pure, on ``Decimal``/``float``/``int`` inputs, never returning NaN.

Methods (canonical name, aliases, never negative?):

- ``sqe`` (``mse``, ``squared_error``, ``se``): ``(y - p)**2``; never negative.
- ``abse`` (``mae``, ``absolute_error``, ``ae``): ``|y - p|``; never negative.
- ``huber`` (option ``delta``, default 1): ``e**2/2`` if ``|e| <= delta`` else ``delta*(|e| - delta/2)``;
  never negative.
- ``logcosh`` (``log_cosh``): ``log(cosh(p - y))``, evaluated stably for tiny and huge errors; never negative.
- ``bce`` (``binary_cross_entropy``; option ``epsilon``, default 1e-15): ``-(y ln p + (1-y) ln(1-p))`` with ``p``
  clipped to ``[epsilon, 1-epsilon]``; ``y`` and ``p`` must lie in ``[0, 1]``; never negative.
- ``ztae`` (options ``std`` (required, > 0) and ``mean``, default 0): the z-transformed absolute error
  ``|tanh((y - mean)/std) - tanh((p - mean)/std)|``. ``std`` is the standard deviation of the topic's target (e.g. the
  per-horizon log-return): pass it in the options, or pass ``returns=`` (recent realised values) and it is their sample
  standard deviation (ddof=1). Never negative, bounded by 2.
- ``zptae`` (options ``std``, ``mean``, ``alpha`` 0.25, ``beta`` 2, ``mse_norm`` 0.01, ``gamma`` 4): power-tanh variant,
  ``|pt(z_y) - pt(z_p)| + (mse_norm*|z_p - z_y|)**gamma`` with ``pt(x) = x / (1 + |x|**beta)**((1 - alpha)/beta)``.
- ``poisson`` (option ``epsilon``, default 1e-7): ``p - y ln max(p, epsilon)``, ``y, p >= 0``; CAN be negative.

These match the formulas of the loss functions ``allora_sdk.loss_methods`` ships (the tests check agreement), and the
option names match what the allora-offchain-node passes through ``LossMethodOptions`` (a string-to-string map, e.g.
``{"loss_method": "huber", "delta": "1.0"}``; numbers as strings are accepted).

Any NaN or infinite input, option, or result raises :class:`LossError` with the reason: a NaN loss must never reach
the chain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Real = float | int | Decimal
LossFn = Callable[[Real, Real], float]

LN2 = math.log(2.0)


class LossError(ValueError):
    """A loss cannot be computed: bad input (NaN, inf, out of domain), bad option, or unknown method."""


class UnknownLossMethodError(LossError):
    def __init__(self, method: str) -> None:
        super().__init__(f"unknown loss method {method!r} (supported: {', '.join(supported_methods())})")
        self.method = method


def to_float(name: str, value: Any) -> float:
    """``value`` as a finite float, or :class:`LossError` naming ``name``. Accepts int, float, Decimal, numeric str."""
    if isinstance(value, bool) or value is None:
        raise LossError(f"{name} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = Decimal(value.strip().strip('"'))
        except InvalidOperation:
            raise LossError(f"{name} is not a decimal number: {value!r}") from None
    if not isinstance(value, int | float | Decimal):
        raise LossError(f"{name} must be a number, got {type(value).__name__}")
    try:
        out = float(value)
    except (OverflowError, ValueError):
        raise LossError(f"{name} is not representable as a float: {value!r}") from None
    if not math.isfinite(out):
        raise LossError(f"{name} must be finite, got {value!r}")
    return out


def _finite_result(method: str, value: float) -> float:
    if not math.isfinite(value):
        raise LossError(f"{method} loss is not finite for these inputs (overflow)")
    return value


# --- the formulas -------------------------------------------------------------------------------------------------


def squared_error(y_true: Real, y_pred: Real) -> float:
    y, p = to_float("y_true", y_true), to_float("y_pred", y_pred)
    try:
        return _finite_result("sqe", (y - p) * (y - p))
    except OverflowError:
        raise LossError("sqe loss overflows for these inputs") from None


def absolute_error(y_true: Real, y_pred: Real) -> float:
    y, p = to_float("y_true", y_true), to_float("y_pred", y_pred)
    return _finite_result("abse", abs(y - p))


def huber(y_true: Real, y_pred: Real, delta: float = 1.0) -> float:
    if not (math.isfinite(delta) and delta > 0):
        raise LossError(f"huber delta must be a positive number, got {delta!r}")
    y, p = to_float("y_true", y_true), to_float("y_pred", y_pred)
    err = abs(y - p)
    if not math.isfinite(err):
        raise LossError("huber loss overflows for these inputs")
    if err <= delta:
        return 0.5 * err * err
    return _finite_result("huber", delta * (err - 0.5 * delta))


def log_cosh(y_true: Real, y_pred: Real) -> float:
    """``log(cosh(e))``: series for tiny ``|e|`` (where ``cosh`` rounds to 1), asymptotic form for large ``|e|``."""
    y, p = to_float("y_true", y_true), to_float("y_pred", y_pred)
    e = abs(p - y)
    if not math.isfinite(e):
        raise LossError("logcosh loss overflows for these inputs")
    if e < 1e-4:
        return e * e / 2.0 - e**4 / 12.0
    if e < 20.0:
        return math.log(math.cosh(e))
    return e - LN2 + math.log1p(math.exp(-2.0 * e))


def binary_cross_entropy(y_true: Real, y_pred: Real, epsilon: float = 1e-15) -> float:
    if not (0.0 < epsilon < 0.5):
        raise LossError(f"bce epsilon must be in (0, 0.5), got {epsilon!r}")
    y, p = to_float("y_true", y_true), to_float("y_pred", y_pred)
    if not 0.0 <= y <= 1.0:
        raise LossError(f"bce y_true must be in [0, 1], got {y!r}")
    if not 0.0 <= p <= 1.0:
        raise LossError(f"bce y_pred must be in [0, 1], got {p!r}")
    clipped = min(max(p, epsilon), 1.0 - epsilon)
    loss = -(y * math.log(clipped) + (1.0 - y) * math.log(1.0 - clipped))
    return max(loss, 0.0)


def _check_std(std: float) -> None:
    if not (math.isfinite(std) and std > 0):
        raise LossError(f"std must be a positive finite number, got {std!r}")


def ztae(y_true: Real, y_pred: Real, std: float, mean: float = 0.0) -> float:
    """Z-transformed absolute error: ``|tanh((y - mean)/std) - tanh((p - mean)/std)|`` (``math.tanh`` saturates)."""
    _check_std(std)
    y, p = to_float("y_true", y_true), to_float("y_pred", y_pred)
    z_y, z_p = (y - mean) / std, (p - mean) / std
    return _finite_result("ztae", abs(math.tanh(z_y) - math.tanh(z_p)))


def _power_tanh(x: float, alpha: float, beta: float) -> float:
    if not math.isfinite(x):
        return math.copysign(math.inf, x)
    try:
        return x / (1.0 + abs(x) ** beta) ** ((1.0 - alpha) / beta)
    except OverflowError:
        return math.copysign(abs(x) ** alpha, x)


def zptae(
    y_true: Real,
    y_pred: Real,
    std: float,
    mean: float = 0.0,
    alpha: float = 0.25,
    beta: float = 2.0,
    mse_norm: float = 0.01,
    gamma: float = 4.0,
) -> float:
    _check_std(std)
    if not (math.isfinite(beta) and beta > 0):
        raise LossError(f"zptae beta must be positive, got {beta!r}")
    y, p = to_float("y_true", y_true), to_float("y_pred", y_pred)
    z_y, z_p = (y - mean) / std, (p - mean) / std
    main = abs(_power_tanh(z_y, alpha, beta) - _power_tanh(z_p, alpha, beta))
    try:
        penalty = (mse_norm * abs(z_p - z_y)) ** gamma
    except OverflowError:
        raise LossError("zptae loss overflows for these inputs") from None
    return _finite_result("zptae", main + penalty)


def poisson(y_true: Real, y_pred: Real, epsilon: float = 1e-7) -> float:
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise LossError(f"poisson epsilon must be positive, got {epsilon!r}")
    y, p = to_float("y_true", y_true), to_float("y_pred", y_pred)
    if y < 0 or p < 0:
        raise LossError(f"poisson needs y_true >= 0 and y_pred >= 0, got {y!r}, {p!r}")
    clipped = max(p, epsilon)
    return _finite_result("poisson", clipped - y * math.log(clipped))


# --- options and registry -----------------------------------------------------------------------------------------

METHOD_OPTION_KEYS = ("loss_method", "method")


def method_from_options(options: Mapping[str, Any] | None, default: str | None = None) -> str | None:
    """The loss method named in offchain-node style options (``loss_method``, or ``method`` as in labeled examples)."""
    if options:
        for key in METHOD_OPTION_KEYS:
            value = options.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return default


def _opt(options: Mapping[str, Any], key: str, default: float | None) -> float | None:
    if key not in options or options[key] is None or options[key] == "":
        return default
    return to_float(f"options.{key}", options[key])


def std_of(returns: Iterable[Real]) -> float:
    """Sample standard deviation (ddof=1) of recent realised values; at least two finite values and a nonzero spread."""
    values = [to_float("returns[]", r) for r in returns]
    if len(values) < 2:
        raise LossError(f"need at least 2 realised values to estimate std, got {len(values)}")
    mean = math.fsum(values) / len(values)
    var = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    std = math.sqrt(var)
    if not std > 0:
        raise LossError("realised values have zero spread: cannot estimate std")
    return std


def _std(options: Mapping[str, Any], returns: Iterable[Real] | None) -> float:
    std = _opt(options, "std", None)
    if std is not None:
        _check_std(std)
        return std
    if returns is not None:
        return std_of(returns)
    raise LossError("this loss method needs a std: pass options.std, or recent realised returns to estimate it")


def _required(value: float | None) -> float:
    assert value is not None
    return value


Factory = Callable[[Mapping[str, Any], Iterable[Real] | None], LossFn]


def _sqe_factory(_o: Mapping[str, Any], _r: Iterable[Real] | None) -> LossFn:
    return squared_error


def _abse_factory(_o: Mapping[str, Any], _r: Iterable[Real] | None) -> LossFn:
    return absolute_error


def _logcosh_factory(_o: Mapping[str, Any], _r: Iterable[Real] | None) -> LossFn:
    return log_cosh


def _huber_factory(o: Mapping[str, Any], _r: Iterable[Real] | None) -> LossFn:
    delta = _required(_opt(o, "delta", 1.0))
    huber(0.0, 0.0, delta)  # validates delta now, not on first use
    return lambda y, p: huber(y, p, delta)


def _bce_factory(o: Mapping[str, Any], _r: Iterable[Real] | None) -> LossFn:
    eps = _required(_opt(o, "epsilon", 1e-15))
    binary_cross_entropy(0.0, 0.0, eps)
    return lambda y, p: binary_cross_entropy(y, p, eps)


def _poisson_factory(o: Mapping[str, Any], _r: Iterable[Real] | None) -> LossFn:
    eps = _required(_opt(o, "epsilon", 1e-7))
    poisson(0.0, 0.0, eps)
    return lambda y, p: poisson(y, p, eps)


def _ztae_factory(o: Mapping[str, Any], r: Iterable[Real] | None) -> LossFn:
    std, mean = _std(o, r), _required(_opt(o, "mean", 0.0))
    return lambda y, p: ztae(y, p, std, mean)


def _zptae_factory(o: Mapping[str, Any], r: Iterable[Real] | None) -> LossFn:
    std, mean = _std(o, r), _required(_opt(o, "mean", 0.0))
    alpha, beta = _required(_opt(o, "alpha", 0.25)), _required(_opt(o, "beta", 2.0))
    mse_norm, gamma = _required(_opt(o, "mse_norm", 0.01)), _required(_opt(o, "gamma", 4.0))
    zptae(0.0, 0.0, std, mean, alpha, beta, mse_norm, gamma)
    return lambda y, p: zptae(y, p, std, mean, alpha, beta, mse_norm, gamma)


@dataclass(frozen=True, slots=True)
class LossMethod:
    """One supported loss method. ``zero_at_perfect``: the loss is exactly 0 when ``y_pred == y_true``."""

    name: str
    aliases: tuple[str, ...]
    never_negative: bool
    zero_at_perfect: bool
    needs_std: bool
    factory: Factory


LOSS_METHODS: dict[str, LossMethod] = {
    m.name: m
    for m in (
        LossMethod("sqe", ("mse", "squared_error", "se"), True, True, False, _sqe_factory),
        LossMethod("abse", ("mae", "absolute_error", "ae"), True, True, False, _abse_factory),
        LossMethod("huber", ("huber_loss",), True, True, False, _huber_factory),
        LossMethod("logcosh", ("log_cosh", "logcosh_loss"), True, True, False, _logcosh_factory),
        LossMethod("bce", ("binary_cross_entropy", "bce_loss"), True, False, False, _bce_factory),
        LossMethod("ztae", ("ztae_loss", "z_transformed_absolute_error"), True, True, True, _ztae_factory),
        LossMethod("zptae", ("zptae_loss", "z_power_tanh_absolute_error"), True, True, True, _zptae_factory),
        LossMethod("poisson", ("poisson_loss",), False, False, False, _poisson_factory),
    )
}
_ALIASES: dict[str, str] = {alias: m.name for m in LOSS_METHODS.values() for alias in (m.name, *m.aliases)}


def supported_methods() -> list[str]:
    return sorted(LOSS_METHODS)


def resolve_method(method: str) -> LossMethod:
    """The :class:`LossMethod` for a canonical name or alias (case-insensitive)."""
    key = method.strip().lower() if isinstance(method, str) else ""
    if key not in _ALIASES:
        raise UnknownLossMethodError(str(method))
    return LOSS_METHODS[_ALIASES[key]]


def is_never_negative(method: str) -> bool:
    """Whether ``method``'s loss is >= 0 for every valid input (the chain takes log10 of losses that are)."""
    return resolve_method(method).never_negative


def make_loss(
    method: str, options: Mapping[str, Any] | None = None, *, returns: Iterable[Real] | None = None
) -> LossFn:
    """A ``(y_true, y_pred) -> float`` loss for ``method`` with its options bound (validated now)."""
    spec = resolve_method(method)
    return spec.factory(options or {}, returns)


def compute_loss(
    method: str,
    y_true: Real,
    y_pred: Real,
    options: Mapping[str, Any] | None = None,
    *,
    returns: Iterable[Real] | None = None,
) -> float:
    return make_loss(method, options, returns=returns)(y_true, y_pred)


def format_plain(value: float | Decimal) -> str:
    """A finite number as a plain decimal string without exponent (``2.5e-05`` -> ``0.000025``)."""
    dec = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if not dec.is_finite():
        raise LossError(f"not a finite number: {value!r}")
    text = format(dec, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text
