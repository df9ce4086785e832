"""Checkers for notebook 03, standardizing the targets.

Three exercises:

- :func:`check_to_original`: a function that maps a network's standardized
  predictions back to original units, compared with
  :meth:`nnlib.StandardScaler.inverse_transform`;
- :func:`check_original_mse`: a function that turns an MSE measured in
  standardized units into the MSE in original units (times ``scale_**2``);
- :func:`check_gradient_factor`: a number, how many times larger the MSE's
  gradient with respect to the output gets when the targets are multiplied
  by 10 (the network unchanged).

Every checker returns a :class:`~nnlib.exercises.Verdict` and never raises on
a wrong answer.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..preprocessing import StandardScaler
from . import Verdict, not_a_function


def _cases():
    """Scalers fitted on a few target sets of different scales and offsets, and standardized values to map back.

    Returns
    -------
    list of (StandardScaler, ndarray of shape (m, 1))
    """
    rng = np.random.default_rng(3)
    out = []
    for loc, scale in ((0.0, 1.0), (130.0, 3100.0), (-5.0, 0.02)):
        y = rng.normal(loc, scale, size=(40, 1))
        out.append((StandardScaler().fit(y), rng.normal(size=(7, 1))))
    return out


def check_to_original(to_original):
    """Check ``to_original(z, mean, scale)``: standardized predictions back to original units.

    Parameters
    ----------
    to_original : callable
        ``to_original(z, mean, scale) -> ndarray of shape (m, 1)`` for ``z`` of
        shape (m, 1) and a fitted scaler's ``mean_`` and ``scale_`` (shape (1,)).

    Returns
    -------
    Verdict
    """
    if (verdict := not_a_function(to_original, "to_original(z, mean, scale)")) is not None:
        return verdict
    for scaler, z in _cases():
        got = to_original(z.copy(), scaler.mean_.copy(), scaler.scale_.copy())
        if got is None:
            return Verdict(False, "to_original returned None: return the values in original units")
        got = np.asarray(got, dtype=float)
        want = scaler.inverse_transform(z)
        if got.shape != want.shape:
            return Verdict(False, f"to_original returned shape {got.shape}, expected {want.shape} (the shape of z)")
        if np.allclose(got, want, rtol=1e-12, atol=1e-12 * scaler.scale_[0]):
            continue
        if np.allclose(got, (z - scaler.mean_) / scaler.scale_):
            return Verdict(False, "that is transform (original to standardized); invert it: z was (y - mean) / scale")
        if np.allclose(got, z * scaler.scale_):
            return Verdict(False, "close: the scale is right, but the mean is missing")
        if np.allclose(got, z + scaler.mean_) or np.allclose(got, z / scaler.scale_ + scaler.mean_):
            return Verdict(False, "the mean is right, but z must be multiplied by the scale")
        return Verdict(False, f"for mean {scaler.mean_[0]:.3g}, scale {scaler.scale_[0]:.3g}, z = {z[0, 0]:.3f}: "
                       f"expected {want[0, 0]:.6g}, got {got[0, 0]:.6g}")
    return Verdict(True, "this is what StandardScaler.inverse_transform computes: y = z * scale + mean")


def check_original_mse(original_mse):
    """Check ``original_mse(loss_std, scale)``: an MSE in standardized units turned into original units.

    Parameters
    ----------
    original_mse : callable
        ``original_mse(loss_std, scale) -> float``, where ``loss_std`` is
        ``mean((z_hat - z) ** 2)`` and ``scale`` the target scaler's ``scale_[0]``.

    Returns
    -------
    Verdict
    """
    if (verdict := not_a_function(original_mse, "original_mse(loss_std, scale)")) is not None:
        return verdict
    for scaler, z in _cases():
        z_true = np.linspace(-1.5, 1.5, z.shape[0])[:, None]
        loss_std = float(np.mean((z - z_true) ** 2))
        scale = float(scaler.scale_[0])
        want = float(np.mean((scaler.inverse_transform(z) - scaler.inverse_transform(z_true)) ** 2))
        got = original_mse(loss_std, scale)
        if got is None:
            return Verdict(False, "original_mse returned None: return the MSE in original units")
        try:
            got = float(got)
        except (TypeError, ValueError):
            return Verdict(False, f"original_mse must return a number, got {type(got).__name__}")
        if np.isclose(got, want, rtol=1e-10):
            continue
        if np.isclose(got, loss_std * scale, rtol=1e-10):
            return Verdict(False, "the MSE is a mean of squared errors, and each error is scale times larger: "
                           "the factor is squared")
        if np.isclose(got, loss_std, rtol=1e-10) and not np.isclose(scale, 1.0):
            return Verdict(False, "that is the standardized MSE unchanged; the errors in original units are scale times larger")
        return Verdict(False, f"for loss_std {loss_std:.4g} and scale {scale:.4g}: expected {want:.6g}, got {got:.6g} "
                       "(the mean does not matter: it cancels in y_hat - y)")
    return Verdict(True, "errors in original units are scale times larger, so their mean square is scale**2 times larger; "
                   "the mean cancels in the difference")


def check_gradient_factor(factor):
    """Check a prediction: how many times larger ``dMSE/dy_hat`` gets when the targets are multiplied by 10.

    Parameters
    ----------
    factor : float
        The predicted ratio ``|dMSE/dy_hat| (targets 10 y) / |dMSE/dy_hat| (targets y)``
        for the same network at initialization, whose outputs are small next to the targets.

    Returns
    -------
    Verdict
        Correct for a factor between 9 and 11 (about 10: the gradient is
        ``2 (y_hat - y) / n``, linear in the targets when ``y_hat`` is small).
    """
    if factor is None:
        return Verdict(False, "factor is still None: write your prediction as a number, e.g. factor = 3")
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not np.isfinite(factor):
        return Verdict(False, f"factor must be a finite number, got {factor!r}")
    factor = float(factor)
    if 9.0 <= factor <= 11.0:
        return Verdict(True, "about 10: dMSE/dy_hat = 2 (y_hat - y) / n is linear in the error, and at initialization "
                       "the error is almost all target; the MSE itself grows about 100 times")
    if 90.0 <= factor <= 110.0:
        return Verdict(False, "100 is the factor of the MSE's value (a square); its gradient has one power fewer")
    if 0.0 < factor < 1.0:
        return Verdict(False, "larger targets make larger errors, and the gradient is proportional to the error")
    return Verdict(False, f"{factor:g} is off: write out dMSE/dy_hat for MSE = mean((y_hat - y)**2) and see how it "
                   "changes when y is 10 times larger and y_hat stays small")


__all__ = ["check_to_original", "check_original_mse", "check_gradient_factor"]
