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

All of the above is closed-form numpy: no network, no training loop.

**A network's sharpness.** For an :class:`~nnlib.network.MLP` the loss is not
quadratic and its Hessian changes as the weights move. :func:`sharpness` gives
the largest eigenvalue of that Hessian at the current weights (with respect to
every parameter of every layer), by Lanczos iteration on exact
Hessian-vector products; :class:`SharpnessRecorder` records it every few epochs
of :func:`~nnlib.training.train`. Gradient descent stays stable near the
current weights only while ``lr < 2 / sharpness``; at a fixed learning rate
the sharpness often rises until it reaches ``2 / lr`` and then hovers there
(the "edge of stability", Cohen et al., 2021).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_generator, check_array, check_int, check_positive_finite, check_same_rows
from .layers import BatchNorm, Dense, ReLU, Sigmoid, Tanh, sigmoid
from .losses import BinaryCrossEntropy, get_loss
from .training import check_model_data


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
    """Where a sweep over learning rates turns from stable to unstable: a measured 2/lambda_max.

    This brackets the *stability limit* of gradient descent on a quadratic
    loss, the quantity :func:`max_stable_lr` predicts. It is not the range of
    learning rates that train a network well: that is
    :func:`nnlib.outcomes.usable_lr_range`.

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


# -- a network's sharpness -----------------------------------------------------


def sharpness(model, X, y, loss="bce", tol=1e-6, max_iter=100, rng=None, return_info=False):
    """The largest eigenvalue of the loss Hessian of a network at its current weights.

    The Hessian is taken with respect to every trainable parameter (each
    layer's ``params``: ``W`` and ``b`` of ``Dense``, ``gamma`` and ``beta`` of
    ``BatchNorm``) of the full-batch loss that :func:`~nnlib.training.train`
    minimizes: for ``BatchNorm`` networks the training-mode loss, normalized
    with the statistics of the batch ``X``. Gradient descent with learning
    rate ``lr`` is locally stable only if ``lr < 2 / sharpness``.

    The model is only read: its weights, gradients, ``BatchNorm`` running
    statistics and forward caches are left exactly as they were.

    Parameters
    ----------
    model : MLP
        A single network or an ensemble of K.
    X : array_like of shape (n, sizes[0]), or (K, n, sizes[0]) for an ensemble
    y : array_like of shape (n, sizes[-1])
    loss : {"bce", "mse"} or a loss object, default "bce"
        As in :func:`~nnlib.training.train`; "bce" needs a sigmoid output.
    tol : float, default 1e-6
        Stop when the Lanczos residual bound ``||H u - theta u||`` of the top
        Ritz pair is at most ``tol`` times the largest Ritz value in absolute
        value (an estimate of ``||H||``). The eigenvalue error is at most that
        bound, and usually about its square over the gap to the next eigenvalue.
    max_iter : int, default 100
        At most this many Hessian-vector products (also at most the number of
        parameters, where the Krylov space is complete). Each costs about one
        to three training epochs (more with ``BatchNorm``); 6 to 12 were
        enough for the tutorial's networks (``benchmarks/sharpness_cost.py``).
    rng : None, int or Generator
        Draws the random start vector; the same seed gives the same result bit
        for bit.
    return_info : bool, default False
        Also return a dict with ``"iterations"`` (Hessian-vector products
        used) and ``"converged"`` (whether ``tol`` was met), each an int/bool
        or, for an ensemble, an array of shape (K,).

    Returns
    -------
    float, or ndarray of shape (K,) for an ensemble
        The largest *algebraic* eigenvalue lambda_max. Away from a minimum the
        Hessian has negative eigenvalues too, and one of them may be larger in
        magnitude; it is not what is returned (Lanczos finds both ends of the
        spectrum, and the top end is the one that limits the learning rate).
        If every eigenvalue is negative, the result is negative. NaN for a
        network whose loss or gradient is not finite.

    Notes
    -----
    Each Hessian-vector product is exact up to rounding (a forward-mode pass
    through the network and a second-order backward pass, Pearlmutter's
    R-operator), with no finite-difference step to tune. A ReLU's derivative
    is taken as constant (0 or 1) around the current weights, as in
    backpropagation and in automatic differentiation frameworks. Lanczos uses
    full reorthogonalization, so its cost is dominated by the products. As for
    any Krylov method, a start vector (almost) orthogonal to the top
    eigenvector could miss it; a random start makes that improbable.
    """
    hvp = _HessianVectorProduct(model, X, y, loss)
    tol = check_positive_finite(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    _check_bool(return_info, "return_info")
    gen = as_generator(rng)
    start = gen.standard_normal((hvp.n_rows, hvp.size))
    value, iterations, converged = _lanczos_top(hvp, start, tol, max_iter, hvp.finite)
    if model.n_models is None:
        value, iterations, converged = float(value[0]), int(iterations[0]), bool(converged[0])
    if return_info:
        return value, {"iterations": iterations, "converged": converged}
    return value


class SharpnessRecorder:
    """Record a network's sharpness every ``every`` epochs of :func:`~nnlib.training.train`.

    Pass it as ``train(..., callback=recorder)``. ``train`` calls it after
    each epoch's update; every ``every`` epochs it computes :func:`sharpness`
    at the weights of that moment, the weights *after* ``epoch + 1`` updates,
    which are the weights the next epoch's loss is computed at. It stores
    that count of updates in ``epochs``, so ``values[i]`` belongs to the point
    ``hist.loss[epochs[i]]`` of the loss curve (when that epoch was run). It
    only reads the model, so training with a recorder gives the same losses
    and weights, bit for bit, as training without one; without a recorder
    nothing is computed at all.

    Parameters
    ----------
    X, y, loss
        The training data and loss, as given to ``train`` (full batch).
    every : int, default 25
        Record after every ``every``-th update (``epochs`` = every, 2 * every, ...).
    tol, max_iter
        Passed to :func:`sharpness`.
    rng : None, int or Generator
        Start vectors of the Lanczos iterations, drawn in turn from this one
        generator: the same seed gives the same record.

    Attributes
    ----------
    epochs : ndarray of int, shape (n_records,)
        Number of updates made before each record.
    values : ndarray of shape (n_records,), or (n_records, K) for an ensemble
        (shape (0,) before the first record). The sharpness; NaN for an
        ensemble member whose loss was not finite that epoch (it diverged and
        was frozen).

    Notes
    -----
    At the edge of stability gradient descent often settles into a period-2
    oscillation: the sharpness alternates from one epoch to the next between
    a value above ``2 / lr`` and one below it (the two average about
    ``2 / lr``). An even ``every`` then samples only one of the two phases, an
    odd one samples them in turn; average neighbouring records, or record
    every epoch over a window, to see the level it hovers at.

    Examples
    --------
    >>> rec = SharpnessRecorder(X, y, "bce", every=25)           # doctest: +SKIP
    >>> hist = nnlib.train(model, X, y, lr=0.1, epochs=2000, callback=rec)  # doctest: +SKIP
    >>> rec.values * 0.1 / 2     # about 1 at the edge of stability  # doctest: +SKIP
    """

    def __init__(self, X, y, loss="bce", every=25, tol=1e-6, max_iter=100, rng=None):
        self.X = check_array(X, "X", ndim=(2, 3))
        self.y = check_array(y, "y", ndim=2)
        check_same_rows(self.X, self.y)
        self.loss = get_loss(loss)
        self.every = check_int(every, "every", minimum=1)
        self.tol = check_positive_finite(tol, "tol")
        self.max_iter = check_int(max_iter, "max_iter", minimum=1)
        self.rng = as_generator(rng)
        self._epochs = []
        self._values = []

    @property
    def epochs(self):
        return np.array(self._epochs, dtype=int)

    @property
    def values(self):
        if not self._values:
            return np.empty(0)
        return np.array(self._values)

    def __call__(self, epoch, model, loss):
        """The ``train`` callback: record if ``epoch + 1`` is a multiple of ``every``; never stops training."""
        if (epoch + 1) % self.every:
            return False
        value = sharpness(model, self.X, self.y, self.loss, tol=self.tol, max_iter=self.max_iter, rng=self.rng)
        if model.n_models is not None:
            value = np.where(np.isfinite(loss), value, np.nan)
        self._epochs.append(epoch + 1)
        self._values.append(value)
        return False

    def __repr__(self):
        return f"SharpnessRecorder(every={self.every}, loss={self.loss!r}, {len(self._epochs)} records)"


class _HessianVectorProduct:
    """Exact products ``H v`` of a network's loss Hessian at fixed weights.

    The constructor runs one forward and one backward pass of its own (the
    model's layers are only read, never run, so their caches and running
    statistics stay as they were) and keeps what every product needs. Each
    product then runs a forward-mode (tangent) pass and a second-order
    backward pass.

    Internally a single network is an ensemble of one: every parameter gets
    a leading model axis of length 1, every activation has shape (K, n, F).
    Vectors are (K, P) arrays, P the parameters of one network, in layer
    order and, within a layer, in the order of its ``params`` dict.
    """

    def __init__(self, model, X, y, loss):
        X, y, loss_fn = check_model_data(model, X, y, loss)
        self.fused = isinstance(loss_fn, BinaryCrossEntropy)
        single = model.n_models is None
        self.layers = model.layers[:-1] if self.fused else list(model.layers)
        for layer in self.layers:
            if not isinstance(layer, (Dense, ReLU, Sigmoid, Tanh, BatchNorm)):
                raise TypeError(f"sharpness does not know the layer {layer!r}")
        # (layer index, key, parameter with a model axis) for every parameter
        self.params = [(i, key, p[None] if single else p) for i, layer in enumerate(self.layers) for key, p in layer.params.items()]
        self.n_rows = 1 if single else model.n_models
        sizes = [p[0].size for _, _, p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.size = int(self.offsets[-1])
        self.per_layer = [{key: p for j, key, p in self.params if j == i} for i in range(len(self.layers))]
        self.n_out = y.shape[0] * y.shape[1]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            self._forward(X, y, loss_fn)
            self._backward()

    # -- the fixed point: forward and backward --------------------------------
    def _forward(self, X, y, loss_fn):
        self.cache = []
        a = X
        for layer, p in zip(self.layers, self.per_layer, strict=True):
            if isinstance(layer, Dense):
                self.cache.append(a)
                a = a @ p["W"]
                if "b" in p:
                    a = a + p["b"][:, None, :]
            elif isinstance(layer, ReLU):
                mask = a > 0
                self.cache.append(mask)
                a = a * mask
            elif isinstance(layer, Sigmoid):
                a = sigmoid(a)
                self.cache.append(a)
            elif isinstance(layer, Tanh):
                a = np.tanh(a)
                self.cache.append(a)
            else:  # BatchNorm in training mode: the batch's mean and population variance
                xc = a - a.mean(axis=-2, keepdims=True)
                inv_std = 1.0 / np.sqrt((xc * xc).mean(axis=-2, keepdims=True) + layer.eps)
                x_hat = xc * inv_std
                self.cache.append((x_hat, inv_std))
                a = p["gamma"][:, None, :] * x_hat + p["beta"][:, None, :]
        if self.fused:
            self.out_deriv = sigmoid(a)  # d loss / dz = (p - y) / (n d), and d^2 loss / dz^2 = p (1 - p) / (n d)
            d_out = (self.out_deriv - y) / self.n_out
            self.out_curv = self.out_deriv * (1.0 - self.out_deriv) / self.n_out
            value = loss_fn.value_from_logits(a, y)
        else:
            d_out = 2.0 * (a - y) / self.n_out
            self.out_curv = None
            value = loss_fn(a, y)
        self.d_out = d_out
        self.finite = np.isfinite(np.atleast_1d(value))

    def _backward(self):
        """Keep ``deltas[i]``, the gradient of the loss with respect to layer i's output."""
        self.deltas = [None] * len(self.layers)
        dy = self.d_out
        for i in range(len(self.layers) - 1, -1, -1):
            self.deltas[i] = dy
            if i == 0:
                break
            layer, p, c = self.layers[i], self.per_layer[i], self.cache[i]
            if isinstance(layer, Dense):
                dy = dy @ p["W"].swapaxes(-1, -2)
            elif isinstance(layer, ReLU):
                dy = dy * c
            elif isinstance(layer, Sigmoid):
                dy = dy * c * (1.0 - c)
            elif isinstance(layer, Tanh):
                dy = dy * (1.0 - c * c)
            else:
                x_hat, inv_std = c
                g = dy * p["gamma"][:, None, :]
                dy = inv_std * (g - g.mean(axis=-2, keepdims=True) - x_hat * (g * x_hat).mean(axis=-2, keepdims=True))

    # -- one product -----------------------------------------------------------
    def _split(self, v):
        """The (K, P) vector ``v`` as one dict per layer of arrays shaped like its params."""
        out = [{} for _ in self.layers]
        for (i, key, p), lo, hi in zip(self.params, self.offsets[:-1], self.offsets[1:], strict=True):
            out[i][key] = v[:, lo:hi].reshape(p.shape)
        return out

    def __call__(self, v):
        """``H v`` for a (K, P) array ``v`` (one direction per network); returns (K, P)."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return self._product(v)

    def _product(self, v):
        dp = self._split(v)
        # Tangent pass: the directional derivative of every activation along v.
        # ``tangent[i]`` keeps what the second-order backward pass needs.
        tangent = [None] * len(self.layers)
        da = None  # the data does not move
        for i, (layer, p, c) in enumerate(zip(self.layers, self.per_layer, self.cache, strict=True)):
            if isinstance(layer, Dense):
                tangent[i] = da
                out = c @ dp[i]["W"]
                if da is not None:
                    out += da @ p["W"]
                if "b" in p:
                    out += dp[i]["b"][:, None, :]
                da = out
            elif isinstance(layer, ReLU):
                da = da * c
            elif isinstance(layer, Sigmoid):
                da = da * c * (1.0 - c)
                tangent[i] = da
            elif isinstance(layer, Tanh):
                da = da * (1.0 - c * c)
                tangent[i] = da
            else:
                x_hat, inv_std = c
                dxc = da - da.mean(axis=-2, keepdims=True)
                m1 = (x_hat * dxc).mean(axis=-2, keepdims=True)
                dx_hat = inv_std * (dxc - x_hat * m1)  # derivative of x_hat = (x - mean) / std
                tangent[i] = (dx_hat, m1)
                da = p["gamma"][:, None, :] * dx_hat + dp[i]["gamma"][:, None, :] * x_hat + dp[i]["beta"][:, None, :]
        # The derivative along v of d loss / d output.
        ddy = self.out_curv * da if self.fused else (2.0 / self.n_out) * da
        hv = np.empty_like(v)
        hv_parts = self._split(hv)
        for i in range(len(self.layers) - 1, -1, -1):
            layer, p, c, dy, t = self.layers[i], self.per_layer[i], self.cache[i], self.deltas[i], tangent[i]
            if isinstance(layer, Dense):
                hW = c.swapaxes(-1, -2) @ ddy
                if t is not None:
                    hW += t.swapaxes(-1, -2) @ dy
                hv_parts[i]["W"][...] = hW
                if "b" in p:
                    hv_parts[i]["b"][...] = ddy.sum(axis=-2)
                if i > 0:
                    ddy = ddy @ p["W"].swapaxes(-1, -2) + dy @ dp[i]["W"].swapaxes(-1, -2)
            elif isinstance(layer, ReLU):
                ddy = ddy * c
            elif isinstance(layer, Sigmoid):
                ddy = ddy * c * (1.0 - c) + dy * (1.0 - 2.0 * c) * t
            elif isinstance(layer, Tanh):
                ddy = ddy * (1.0 - c * c) - 2.0 * dy * c * t
            else:
                x_hat, inv_std = c
                dx_hat, m1 = t
                hv_parts[i]["gamma"][...] = (ddy * x_hat + dy * dx_hat).sum(axis=-2)
                hv_parts[i]["beta"][...] = ddy.sum(axis=-2)
                gamma = p["gamma"][:, None, :]
                g = dy * gamma                                   # d loss / d x_hat
                dg = ddy * gamma + dy * dp[i]["gamma"][:, None, :]  # its derivative along v
                gx = (g * x_hat).mean(axis=-2, keepdims=True)
                A = g - g.mean(axis=-2, keepdims=True) - x_hat * gx  # d loss / d x = inv_std * A
                dA = dg - dg.mean(axis=-2, keepdims=True) - dx_hat * gx - x_hat * (dg * x_hat + g * dx_hat).mean(axis=-2, keepdims=True)
                d_inv_std = -inv_std * inv_std * m1
                ddy = d_inv_std * A + inv_std * dA
        return hv


def _lanczos_top(matvec, start, tol, max_iter, finite):
    """Largest Ritz value of K independent symmetric Lanczos runs done in lockstep.

    Parameters
    ----------
    matvec : callable
        ``matvec(Q) -> H Q`` for a (K, P) array, row k multiplied by matrix k.
    start : ndarray of shape (K, P)
    tol : float
    max_iter : int
    finite : ndarray of bool, shape (K,)
        False for a network whose loss is not finite: NaN, no iterations.

    Returns
    -------
    value : ndarray of shape (K,)
    iterations : ndarray of int, shape (K,)
    converged : ndarray of bool, shape (K,)
    """
    K, P = start.shape
    m_max = min(max_iter, P)
    Q = np.zeros((m_max + 1, K, P))
    alpha = np.zeros((K, m_max))
    beta = np.zeros((K, m_max))
    value = np.full(K, np.nan)
    iterations = np.zeros(K, dtype=int)
    converged = np.zeros(K, dtype=bool)
    active = finite.copy()
    Q[0] = start / np.linalg.norm(start, axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for j in range(m_max):
            if not active.any():
                break
            w = matvec(Q[j])
            bad = active & ~np.isfinite(w).all(axis=1)
            active &= ~bad
            iterations[active] = j + 1
            alpha[:, j] = np.einsum("kp,kp->k", w, Q[j])
            # Full reorthogonalization, twice ("twice is enough"), keeps the
            # basis orthogonal, so no spurious copies of converged Ritz values.
            for _ in range(2):
                coeff = np.einsum("jkp,kp->jk", Q[: j + 1], w)
                w -= np.einsum("jk,jkp->kp", coeff, Q[: j + 1])
            b = np.linalg.norm(w, axis=1)
            beta[:, j] = b
            T = np.zeros((K, j + 1, j + 1))
            idx = np.arange(j + 1)
            T[:, idx, idx] = alpha[:, : j + 1]
            T[:, idx[1:], idx[:-1]] = beta[:, :j]
            T[:, idx[:-1], idx[1:]] = beta[:, :j]
            T[~active] = 0.0
            evals, evecs = np.linalg.eigh(T)
            theta = evals[:, -1]
            scale = np.abs(evals).max(axis=1)
            residual = b * np.abs(evecs[:, -1, -1])
            # b == 0: the Krylov space is invariant and theta is exact.
            done = residual <= tol * scale
            ends = active & (done | (j + 1 == m_max))
            value[ends] = theta[ends]
            converged[ends] = done[ends] | (j + 1 == P)
            active &= ~ends
            Q[j + 1] = np.where((b > 0)[:, None], w / np.where(b > 0, b, 1.0)[:, None], 0.0)
    return value, iterations, converged
