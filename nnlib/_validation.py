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
        If ``a`` cannot be read as a numeric array, or is complex.
    ValueError
        On the wrong number of dimensions, an empty array, NaN/inf, or a
        Python int too large for a float.
    """
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}: {a!r}")
    # Two steps, so complex input is seen before a cast would drop its
    # imaginary part (with only a ComplexWarning).
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as exc:  # e.g. ragged nested lists
        raise TypeError(f"{name} must be a numeric array; could not convert it: {exc}") from None
    if arr.dtype.kind == "c":
        raise TypeError(
            f"{name} must hold real numbers, got a complex array (dtype {arr.dtype}); "
            f"pass {name}.real if the imaginary part is meant to be dropped"
        )
    try:
        arr = arr.astype(dtype, copy=False)
    except OverflowError:
        # Python ints beyond float range (e.g. 10**400) arrive as an object array.
        raise ValueError(f"{name} holds a number too large for {np.dtype(dtype).name} (above about 1.8e308)") from None
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
    arr = _as_real_array(value, name, "a positive finite number")
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


def _as_real_array(value, name, expected):
    """``value`` as a float64 array; TypeError for non-numbers and complex, ValueError for ints beyond float range."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {expected}, got {value!r}") from None
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be {expected} (real), got a complex value: {value!r}")
    try:
        return arr.astype(np.float64)
    except OverflowError:
        raise ValueError(f"{name} must be {expected}; got an integer too large for a float ({_short(value)})") from None
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {expected}, got {value!r}") from None


def _short(value):
    """A repr cut to a readable length (10**400 has 401 digits)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


def check_real(value, name, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite float, optionally within ``[low, high]``.

    Parameters
    ----------
    value : real number
    name : str
    low, high : float or None
        Bounds; None for none.
    low_open, high_open : bool, default False
        Exclude the bound itself.

    Raises
    ------
    TypeError
        For bools, strings, arrays, complex numbers and other non-numbers.
    ValueError
        For NaN, infinity, ints too large for a float, or a value out of bounds.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number; got an integer too large for a float ({_short(value)})") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and (v >= high if high_open else v > high)
    if too_low or too_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (")" if high_open or high is None else "]")
        want = "a positive finite number" if (low, low_open, high) == (0.0, True, None) else f"a number in {interval}"
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return v


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
    if isinstance(rng, numbers.Integral) and rng < 0:
        raise ValueError(f"{name} must be a non-negative int seed, got {rng!r}")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be None, an int seed or a numpy Generator, got {rng!r} ({exc})") from None


def check_output_pair(y_hat, y, y_hat_name="y_hat", y_name="y"):
    """Return ``y_hat`` and ``y`` as arrays after checking that their shapes match.

    numpy would broadcast an (n, 1) prediction against (n,) targets into an
    (n, n) table and average that, a plausible but wrong number; this refuses.

    Parameters
    ----------
    y_hat : array_like of shape (n, d) or (K, n, d)
    y : array_like of shape (n, d)

    Returns
    -------
    y_hat, y : ndarray

    Raises
    ------
    ValueError
        If ``y`` is not 2-D or ``y_hat.shape[-2:]`` differs from ``y.shape``.
    """
    y_hat = np.asarray(y_hat)
    y = np.asarray(y)
    if y.ndim != 2 or y_hat.ndim not in (2, 3) or y_hat.shape[-2:] != y.shape:
        hint = "; make 1-D targets a column with y.reshape(-1, 1)" if y.ndim == 1 or y_hat.ndim == 1 else ""
        raise ValueError(
            f"{y_hat_name} and {y_name} must have matching shapes, {y_name} (n, d) and {y_hat_name} (n, d) "
            f"or (K, n, d) for an ensemble; got {y_hat_name} of shape {y_hat.shape} and {y_name} of shape {y.shape}{hint}"
        )
    return y_hat, y


def check_labels(y, name="y"):
    """Raise unless every entry of ``y`` lies in [0, 1] (binary cross-entropy's targets).

    Outside [0, 1] the cross-entropy has no minimum: with y = 2 it falls
    without bound as the logit grows, so training never reports divergence.
    """
    lo, hi = y.min(), y.max()
    if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
        bad = lo if not lo >= 0.0 else hi
        raise ValueError(
            f"{name} must hold labels (or probabilities) in [0, 1] for binary cross-entropy; found {float(bad)!r}"
        )


def as_generators(rng, name="rng"):
    """Normalize ``rng`` for a layer or network that may be an ensemble.

    Parameters
    ----------
    rng : None, int, Generator, or a list, tuple, range or 1-D array of them
        A single source gives one network; a sequence of K gives an ensemble of K.

    Returns
    -------
    gens : Generator, or list of K Generators
    n_models : int or None
        K for a sequence, None for a single source.
    """
    if isinstance(rng, (str, bytes)):
        raise TypeError(f"{name} must be None, an int seed, a Generator or a sequence of them, got {rng!r}")
    if isinstance(rng, (list, tuple, range)) or (isinstance(rng, np.ndarray) and rng.ndim == 1):
        if len(rng) == 0:
            raise ValueError(f"{name} is an empty sequence; an ensemble needs at least one seed")
        gens = [as_generator(r, f"{name}[{i}]") for i, r in enumerate(rng)]
        return gens, len(gens)
    return as_generator(rng, name), None
