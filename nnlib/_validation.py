"""Input checks shared by the numeric core.

Every public entry point validates its arguments here, before it changes any
state, so that bad input fails early with a message naming the value and what
was expected.
"""

from __future__ import annotations

import numbers

import numpy as np


def check_array(a, name, ndim=2, allow_nonfinite=False, dtype=np.float64):
    """Return ``a`` as a float array of the expected number of dimensions.

    Parameters
    ----------
    a : array_like
        The input.
    name : str
        How the error messages call it (``"X"``, ``"y"``).
    ndim : int or tuple of int, default 2
        The accepted number(s) of dimensions.
    allow_nonfinite : bool, default False
        Accept NaN and inf.
    dtype : numpy dtype, default float64

    Returns
    -------
    ndarray
        ``a`` converted to ``dtype`` (no copy if it already is).

    Raises
    ------
    TypeError
        If ``a`` cannot be read as a numeric array.
    ValueError
        On the wrong number of dimensions, an empty array, or NaN/inf.
    """
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}: {a!r}")
    try:
        arr = np.asarray(a, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array; could not convert it: {exc}") from None
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        hint = ""
        if arr.ndim == 1 and 2 in allowed:
            hint = (
                f"; reshape it with {name}.reshape(-1, 1) if it has a single feature"
                f" or {name}.reshape(1, -1) if it is a single sample"
            )
        raise ValueError(f"{name} must be {want}, got a {arr.ndim}-D array of shape {arr.shape}{hint}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); at least one sample is required")
    if not allow_nonfinite and not np.isfinite(arr).all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        raise ValueError(f"{name} contains NaN or infinity ({n_nan} NaN, {n_inf} inf values); clean or impute it first")
    return arr


def check_same_rows(X, y, x_name="X", y_name="y"):
    """Raise if ``X`` and ``y`` do not have the same number of samples (rows)."""
    if X.shape[-2] != y.shape[-2]:
        raise ValueError(
            f"{x_name} and {y_name} have different numbers of samples: "
            f"{x_name} has {X.shape[-2]} rows (shape {X.shape}), {y_name} has {y.shape[-2]} (shape {y.shape})"
        )


def check_int(value, name, minimum=None):
    """Return ``value`` as an int, raising if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}: {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_positive_finite(value, name, n_models=None):
    """Return a learning-rate-like value: a positive finite float, or a vector of them.

    Parameters
    ----------
    value : float or array_like of shape (n_models,)
    name : str
    n_models : int or None
        For an ensemble, the accepted vector length; a scalar is broadcast.

    Returns
    -------
    float or ndarray of shape (n_models,)
    """
    if isinstance(value, bool) or isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a positive finite number, got {type(value).__name__}: {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive finite number, got {value!r}") from None
    if arr.ndim == 0:
        v = float(arr)
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        return v if n_models is None else np.full(n_models, v)
    if n_models is None:
        raise ValueError(
            f"{name} must be a single number for a single network, got an array of shape {arr.shape}; "
            "a per-model vector needs an ensemble (MLP(..., rng=[seed, ...]))"
        )
    if arr.shape != (n_models,):
        raise ValueError(f"{name} must be a number or a vector of shape ({n_models},) (one per model), got shape {arr.shape}")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        # float(): numpy 2 would print the scalar as np.float64(-0.1)
        raise ValueError(f"{name} must hold positive finite numbers; got {float(arr[bad][0])!r} at index {int(np.flatnonzero(bad)[0])}")
    return arr


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    if not isinstance(value, str) and value is not None:
        raise TypeError(f"{name} must be one of {sorted(map(repr, choices))}, got {type(value).__name__}: {value!r}")
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"unknown {name} {value!r}; expected one of {listed}")
    return value


def as_generator(rng, name="rng"):
    """Normalize ``rng`` (None, an int seed, or a Generator) to a ``np.random.Generator``."""
    if isinstance(rng, bool):
        raise TypeError(f"{name} must be None, an int seed or a numpy Generator, got {rng!r}")
    if isinstance(rng, float):
        raise TypeError(f"{name} must be None, an int seed or a numpy Generator, got float {rng!r}")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be None, an int seed or a numpy Generator, got {rng!r} ({exc})") from None
