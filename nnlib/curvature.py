"""Curvature of a linear least-squares model, and why it sets the learning rate.

For a linear model ``y_hat = A w`` and the loss ``L(w) = mean((A w - y) ** 2)``
(nnlib's :class:`~nnlib.losses.MSE`: a mean over samples, no factor 1/2), the
gradient is ``2 A^T (A w - y) / n`` and the Hessian is the constant matrix

    H = 2 A^T A / n.

``A`` is the input matrix ``X``, with a column of ones appended when the model
has a bias (``fit_intercept=True``). Gradient descent ``w <- w - lr * grad``
shrinks the error along each eigenvector of ``H`` by the factor
``1 - lr * lambda``; it is stable exactly when ``|1 - lr * lambda| < 1`` for
every eigenvalue, that is when ``lr < 2 / lambda_max``. Dropping the factor 2
(as for a loss written with 1/2 in front) would predict a limit twice too large.

Everything here is closed-form numpy: no network, no training loop.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_array, check_int, check_positive_finite, check_same_rows


def design_matrix(X, fit_intercept=True):
    """The matrix ``A`` the linear model multiplies its weights with.

    Parameters
    ----------
    X : array_like of shape (n, d)
    fit_intercept : bool, default True
        Append a column of ones (the bias's input) as the last column.

    Returns
    -------
    A : ndarray of shape (n, d + 1) with an intercept, else (n, d)
    """
    X = check_array(X, "X", ndim=2)
    _check_bool(fit_intercept, "fit_intercept")
    if not fit_intercept:
        return X
    return np.column_stack([X, np.ones(X.shape[0])])


def mse_hessian(X, fit_intercept=True):
    """Hessian of ``mean((A w - y) ** 2)`` with respect to ``w``: ``2 A^T A / n``.

    It does not depend on ``w`` or on the targets ``y``.

    Parameters
    ----------
    X : array_like of shape (n, d)
    fit_intercept : bool, default True

    Returns
    -------
    H : ndarray of shape (p, p), p = d + 1 with an intercept, else d
        Symmetric and positive semi-definite.
    """
    A = design_matrix(X, fit_intercept)
    return 2.0 * (A.T @ A) / A.shape[0]


def hessian_eigenvalues(X, fit_intercept=True):
    """Eigenvalues of :func:`mse_hessian`, ascending.

    Returns
    -------
    ndarray of shape (p,)
    """
    return np.linalg.eigvalsh(mse_hessian(X, fit_intercept))


def lambda_max(X, fit_intercept=True):
    """The largest eigenvalue of :func:`mse_hessian` (the sharpest curvature).

    Never negative: the Hessian is positive semi-definite, so a tiny negative
    value from rounding (an all-zero ``X`` without intercept) is returned as 0.
    """
    return max(float(hessian_eigenvalues(X, fit_intercept)[-1]), 0.0)


def condition_number(X, fit_intercept=True):
    """``lambda_max / lambda_min`` of :func:`mse_hessian`; inf if it is singular.

    Gradient descent at its best learning rate needs about this many steps to
    shrink the error along the flattest direction by a constant factor.
    """
    ev = hessian_eigenvalues(X, fit_intercept)
    return float(ev[-1] / ev[0]) if ev[0] > 0 else float("inf")


def max_stable_lr(X, fit_intercept=True):
    """The learning-rate limit ``2 / lambda_max`` of full-batch gradient descent.

    Below it every error component shrinks; above it the component along the
    top eigenvector grows by ``|1 - lr * lambda_max| > 1`` per step.

    Parameters
    ----------
    X : array_like of shape (n, d)
    fit_intercept : bool, default True

    Returns
    -------
    float
        ``inf`` when ``lambda_max`` is 0 (an all-zero ``X`` without an
        intercept): the loss does not depend on the weights, so gradient
        descent never moves and every learning rate is stable.
    """
    lam = lambda_max(X, fit_intercept)
    return 2.0 / lam if lam > 0 else float("inf")


def least_squares(X, y, fit_intercept=True):
    """The minimizer ``w*`` of ``mean((A w - y) ** 2)`` and the minimum loss.

    Parameters
    ----------
    X : array_like of shape (n, d)
    y : array_like of shape (n, 1) or (n,)
    fit_intercept : bool, default True

    Returns
    -------
    w : ndarray of shape (p,)
        Weights, the bias last when ``fit_intercept``.
    loss : float
    """
    A = design_matrix(X, fit_intercept)
    y = _check_target(y, A)
    w = np.linalg.lstsq(A, y, rcond=None)[0]
    r = A @ w - y
    return w, float(np.mean(r * r))


def linear_mse(X, y, w, fit_intercept=True):
    """``mean((A w - y) ** 2)`` for one weight vector or many.

    Parameters
    ----------
    X : array_like of shape (n, d)
    y : array_like of shape (n, 1) or (n,)
    w : array_like of shape (p,) or (..., p)
    fit_intercept : bool, default True

    Returns
    -------
    float, or ndarray of shape ``w.shape[:-1]``
    """
    A = design_matrix(X, fit_intercept)
    y = _check_target(y, A)
    w = check_array(w, "w", ndim=tuple(range(1, 8)))
    if w.shape[-1] != A.shape[1]:
        raise ValueError(f"w has {w.shape[-1]} entries on its last axis, but the model has {A.shape[1]} weights")
    # Expand the quadratic form so a grid of weights costs one small contraction.
    n = A.shape[0]
    G = A.T @ A / n
    b = A.T @ y / n
    c = float(y @ y / n)
    out = np.einsum("...i,ij,...j->...", w, G, w) - 2.0 * (w @ b) + c
    out = np.maximum(out, 0.0)  # rounding can dip a hair below zero at the minimum
    return float(out) if out.ndim == 0 else out


def loss_surface(X, y, w0_values, w1_values, fit_intercept=True):
    """The loss of a two-weight linear model on a grid, for contour plots.

    Parameters
    ----------
    X : array_like of shape (n, 1) with an intercept (weights: slope, bias),
        or (n, 2) without one (weights: the two slopes)
    y : array_like of shape (n, 1) or (n,)
    w0_values : array_like of shape (g0,)
        Values of the first weight (the x-axis of a contour plot).
    w1_values : array_like of shape (g1,)
        Values of the second weight (the y-axis).
    fit_intercept : bool, default True

    Returns
    -------
    L : ndarray of shape (g1, g0)
        ``L[i, j]`` is the loss at ``w = (w0_values[j], w1_values[i])``, the
        layout ``matplotlib.contour(w0_values, w1_values, L)`` expects.
    """
    A = design_matrix(X, fit_intercept)
    if A.shape[1] != 2:
        raise ValueError(f"loss_surface needs a model with exactly two weights, got {A.shape[1]} (X has {np.shape(X)[1]} features, fit_intercept={fit_intercept})")
    g0 = check_array(w0_values, "w0_values", ndim=1)
    g1 = check_array(w1_values, "w1_values", ndim=1)
    W0, W1 = np.meshgrid(g0, g1)
    return linear_mse(X, y, np.stack([W0, W1], axis=-1), fit_intercept)


def gradient_descent_path(X, y, lr, epochs, w_init=None, fit_intercept=True):
    """Full-batch gradient descent on ``mean((A w - y) ** 2)``, every step recorded.

    Parameters
    ----------
    X : array_like of shape (n, d)
    y : array_like of shape (n, 1) or (n,)
    lr : float
        Positive learning rate.
    epochs : int
        Number of steps (at least 1).
    w_init : array_like of shape (p,), optional
        Starting weights; zeros by default.
    fit_intercept : bool, default True

    Returns
    -------
    path : ndarray of shape (epochs + 1, p)
        ``path[0]`` is ``w_init``; ``path[t]`` the weights after t steps. A run
        above the stable limit grows geometrically and may overflow to inf.
    losses : ndarray of shape (epochs + 1,)
        The loss at each row of ``path``.
    """
    A = design_matrix(X, fit_intercept)
    y = _check_target(y, A)
    lr = check_positive_finite(lr, "lr")
    epochs = check_int(epochs, "epochs", minimum=1)
    p = A.shape[1]
    w = np.zeros(p) if w_init is None else check_array(w_init, "w_init", ndim=1).copy()
    if w.shape != (p,):
        raise ValueError(f"w_init must have shape ({p},), got {w.shape}")
    n = A.shape[0]
    path = np.empty((epochs + 1, p))
    losses = np.empty(epochs + 1)
    path[0] = w
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(epochs):
            r = A @ w - y
            losses[t] = np.mean(r * r)
            w = w - lr * (2.0 / n) * (A.T @ r)
            path[t + 1] = w
        r = A @ w - y
        losses[epochs] = np.mean(r * r)
    return path, losses


def stability_bracket(lrs, stable):
    """Where a sweep over learning rates turns from stable to unstable.

    Parameters
    ----------
    lrs : array_like of shape (m,)
        Learning rates, strictly increasing.
    stable : array_like of bool, shape (m,)
        Whether the run at each learning rate was stable.

    Returns
    -------
    (float, float)
        The largest learning rate below which every run was stable, and the
        next learning rate of the sweep (the first unstable one); the limit
        lies between them. The second is inf if every run was stable.

    Raises
    ------
    ValueError
        If the smallest learning rate was already unstable, or the inputs disagree.
    """
    lrs = check_array(lrs, "lrs", ndim=1)
    stable = np.asarray(stable)
    if stable.shape != lrs.shape or stable.dtype != bool:
        raise ValueError(f"stable must be a bool array of shape {lrs.shape}, got {stable.dtype} of shape {stable.shape}")
    if np.any(np.diff(lrs) <= 0):
        raise ValueError("lrs must be strictly increasing")
    if not stable[0]:
        raise ValueError(f"the smallest learning rate of the sweep, {lrs[0]:g}, is already unstable; start the sweep lower")
    if stable.all():
        return float(lrs[-1]), float("inf")
    first_bad = int(np.argmin(stable))
    return float(lrs[first_bad - 1]), float(lrs[first_bad])


def _check_target(y, A):
    y = check_array(y, "y", ndim=(1, 2))
    if y.ndim == 2:
        if y.shape[1] != 1:
            raise ValueError(f"y must have one column, got shape {y.shape}")
        y = y[:, 0]
    check_same_rows(A, y[:, None], "X", "y")
    return y


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
