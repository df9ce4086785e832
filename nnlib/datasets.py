"""The two running problems of the tutorial, generated locally and reproducibly."""

from __future__ import annotations

import numpy as np

from ._validation import _short, as_generator, check_int, check_real


def make_spiral(n_per_class=250, noise=0.2, rng=None, max_theta=4 * np.pi):
    """Two interleaved Archimedean spirals, the classification problem.

    The first spiral is ``r = theta`` for ``theta`` evenly spaced in
    ``[0, max_theta]``; the second is the first turned by pi. Gaussian noise of
    standard deviation ``noise`` is added to both coordinates. With the defaults
    the raw inputs span about -12.6..12.6, far from unit scale on purpose.

    Parameters
    ----------
    n_per_class : int, default 250
        Points per spiral.
    noise : float, default 0.2
        Standard deviation of the Gaussian noise on each coordinate (>= 0).
    rng : None, int or numpy.random.Generator
        Source of the noise.
    max_theta : float, default 4*pi
        Where each spiral ends (two full turns by default); finite.

    Raises
    ------
    ValueError
        For a non-finite parameter, or settings so large that the data would
        not be finite (e.g. ``noise=1e308``).

    Returns
    -------
    X : ndarray of shape (2 * n_per_class, 2)
        Points; the first ``n_per_class`` rows are class 0.
    y : ndarray of shape (2 * n_per_class, 1)
        Labels in {0.0, 1.0}.
    """
    n = check_int(n_per_class, "n_per_class", minimum=1)
    noise = _check_nonnegative(noise, "noise")
    max_theta = check_real(max_theta, "max_theta")
    gen = as_generator(rng)
    theta = np.linspace(0.0, max_theta, n)
    with np.errstate(over="ignore", invalid="ignore"):
        arm = np.column_stack([theta * np.cos(theta), theta * np.sin(theta)])
        X = np.concatenate([arm, -arm]) + gen.normal(0.0, noise, size=(2 * n, 2))
    _check_finite_data(X, f"max_theta={max_theta!r} and noise={noise!r}")
    y = np.concatenate([np.zeros(n), np.ones(n)])[:, None]
    return X, y


def make_polynomial(degree=5, n_points=40, noise=200.0, scale=0.1, rng=None, x_range=(-10.0, 10.0), return_coef=False):
    """A noisy random polynomial, the regression problem.

    Coefficients are drawn uniformly from ``[-scale, scale]``; ``x`` is evenly
    spaced over ``x_range``. With the defaults (degree 5, x up to 10) the targets
    reach thousands, which is the point: raw targets that large make the mean
    squared error and its gradients explode.

    Parameters
    ----------
    degree : int, default 5
    n_points : int, default 40
    noise : float, default 200.0
        Standard deviation of the Gaussian noise added to ``y`` (>= 0).
    scale : float, default 0.1
        Coefficients are uniform in ``[-scale, scale]`` (>= 0).
    rng : None, int or numpy.random.Generator
        Source of the coefficients and of the noise, in that order.
    x_range : (float, float), default (-10, 10)
        Finite, low < high.
    return_coef : bool, default False
        Also return the coefficients, highest power first (``np.polyval`` order).

    Raises
    ------
    ValueError
        For a non-finite parameter, or settings so large that the data would
        not be finite (e.g. ``x_range=(0, 1e300)``).

    Returns
    -------
    X : ndarray of shape (n_points, 1)
    y : ndarray of shape (n_points, 1)
    coef : ndarray of shape (degree + 1,), only if ``return_coef``
    """
    degree = check_int(degree, "degree", minimum=0)
    n_points = check_int(n_points, "n_points", minimum=1)
    noise = _check_nonnegative(noise, "noise")
    scale = _check_nonnegative(scale, "scale")
    if scale > np.finfo(np.float64).max / 2:  # the width of [-scale, scale] must be a finite float
        raise ValueError(f"scale must be at most {np.finfo(np.float64).max / 2:.3g}, got {scale!r}")
    if isinstance(x_range, (str, bytes)) or np.ndim(x_range) != 1 or len(x_range) != 2:
        raise ValueError(f"x_range must be a pair (low, high), got {x_range!r}")
    lo = check_real(x_range[0], "x_range[0]")
    hi = check_real(x_range[1], "x_range[1]")
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}")
    gen = as_generator(rng)
    coef = gen.uniform(-scale, scale, size=degree + 1)
    x = np.linspace(lo, hi, n_points)
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.polyval(coef, x) + gen.normal(0.0, noise, size=n_points)
    _check_finite_data(np.concatenate([x, y]), f"x_range={x_range!r}, scale={scale!r}, degree={degree} and noise={noise!r}")
    if return_coef:
        return x[:, None], y[:, None], coef
    return x[:, None], y[:, None]


def _check_nonnegative(value, name):
    if isinstance(value, bool) or not np.isscalar(value):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        value = check_real(value, name, low=0.0)
    except ValueError:
        raise ValueError(f"{name} must be a finite number >= 0, got {_short(value)}") from None
    return value


def _check_finite_data(a, settings):
    """Fail clearly when finite settings still produce values beyond float64's range."""
    if not np.isfinite(a).all():
        raise ValueError(f"{settings} make values too large for float64 (inf or NaN in the data); use smaller settings")
