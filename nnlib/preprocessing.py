"""Scalers with scikit-learn's conventions.

``__init__`` stores only settings; ``fit`` learns from the data and returns
``self``; learned state ends in ``_``. Constant features get a scale of 1 (so
they map to 0 instead of dividing by zero). Unlike scikit-learn, NaN and inf
are rejected rather than passed through.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_array


class NotFittedError(ValueError, AttributeError):
    """A scaler was used before ``fit``; subclasses ValueError and AttributeError like scikit-learn's."""


def _check_finite_statistics(values, what):
    """Reject data whose statistics overflow float64 (|values| near 1e154 and above)."""
    if not np.isfinite(values).all():
        raise ValueError(f"X is too large to scale: {what} of a column overflows float64; rescale it first")


def _is_constant(var, mean, n_samples):
    """True for columns whose variance is no larger than rounding alone could make it.

    A constant column ``c`` has a computed mean ``c + d`` with ``|d|`` up to
    about ``n * eps * |c|``, so its computed variance is ``d**2``, not 0, and
    its standard deviation (e.g. 3e-14 for 500 rows of 3.7) would blow the
    rounding residue up to +-1. The bound below is the error bound of the
    two-pass variance (Chan, Golub and LeVeque): one term for the rounding of
    the squares, one for the error of the mean. scikit-learn uses the same
    analysis.

    Parameters
    ----------
    var, mean : ndarray of shape (n_features,)
    n_samples : int

    Returns
    -------
    ndarray of bool, shape (n_features,)
    """
    eps = np.finfo(np.float64).eps
    # Computed in float64 from Python int n: n * eps stays tiny for any
    # array that fits in memory, and the squares of finite means do not
    # overflow here because fit already rejected overflowing statistics.
    with np.errstate(over="ignore"):
        bound = n_samples * eps * var + (n_samples * eps * mean) ** 2
    return var <= bound


def _handle_zeros_in_scale(scale, reference):
    """Replace scales that are zero up to rounding by 1 (constant features)."""
    eps = np.finfo(np.float64).eps
    tiny = scale <= 10 * eps * np.maximum(np.abs(reference), 1.0)
    return np.where(tiny, 1.0, scale)


def _check_bool(value, name):
    """Reject anything but a bool: a string such as 'no' would otherwise count as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}: {value!r}")


class _Scaler:
    _fitted_attr = ""

    def _check_fitted(self):
        if not hasattr(self, self._fitted_attr):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. "
                "Call 'fit' with appropriate arguments before using this estimator."
            )

    def _check_X(self, X, fitting=False, name="X"):
        if not fitting:
            self._check_fitted()  # first, as scikit-learn does
        X = check_array(X, name, ndim=2)
        if not fitting:
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"{name} has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
        return X

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)


class StandardScaler(_Scaler):
    """Standardize features: ``z = (x - mean_) / scale_``.

    Parameters
    ----------
    with_mean : bool, default True
        Subtract the mean.
    with_std : bool, default True
        Divide by the standard deviation (population, ddof=0).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    var_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
        Standard deviation, 1 for constant features: those whose variance is
        within the rounding error of computing it (so a constant column maps
        to 0 up to the rounding of its mean, never to +-1).
    n_features_in_ : int
    n_samples_seen_ : int
    """

    _fitted_attr = "scale_"

    def __init__(self, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X):
        """Learn the mean and standard deviation of each column.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        self

        Raises
        ------
        TypeError
            If ``with_mean`` or ``with_std`` is not a bool (checked here, as
            scikit-learn does, so ``__init__`` only stores settings).
        """
        _check_bool(self.with_mean, "with_mean")
        _check_bool(self.with_std, "with_std")
        X = self._check_X(X, fitting=True)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = X.mean(axis=0)
            var = ((X - mean) ** 2).mean(axis=0)
        _check_finite_statistics(var, "the variance")
        self.mean_ = mean if self.with_mean else np.zeros_like(mean)
        self.var_ = var
        constant = _is_constant(var, mean, X.shape[0])
        self.scale_ = np.where(constant, 1.0, np.sqrt(var)) if self.with_std else np.ones_like(mean)
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = X.shape[0]
        return self

    def transform(self, X):
        """Standardize ``X`` (shape (n_samples, n_features)) with the fitted statistics."""
        X = self._check_X(X)
        return (X - self.mean_) / self.scale_

    def inverse_transform(self, Z):
        """Map standardized values (shape (n_samples, n_features)) back to original units."""
        Z = self._check_X(Z, name="Z")
        return Z * self.scale_ + self.mean_

    def __repr__(self):
        args = []
        if not self.with_mean:
            args.append("with_mean=False")
        if not self.with_std:
            args.append("with_std=False")
        return f"StandardScaler({', '.join(args)})"


class MinMaxScaler(_Scaler):
    """Scale each feature linearly to ``feature_range``, from its training min and max.

    Parameters
    ----------
    feature_range : (float, float), default (0, 1)

    Attributes
    ----------
    data_min_, data_max_, data_range_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
        ``(hi - lo) / data_range_``, with a constant feature's range taken as 1.
    min_ : ndarray of shape (n_features,)
        ``lo - data_min_ * scale_``; ``transform(X) = X * scale_ + min_``.
    n_features_in_ : int
    n_samples_seen_ : int
    """

    _fitted_attr = "scale_"

    def __init__(self, feature_range=(0, 1)):
        self.feature_range = feature_range

    def fit(self, X):
        """Learn each column's min and max.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        self
        """
        lo, hi = self._check_range()
        X = self._check_X(X, fitting=True)
        data_min = X.min(axis=0)
        data_max = X.max(axis=0)
        with np.errstate(over="ignore"):
            data_range = data_max - data_min
        _check_finite_statistics(data_range, "the range (max - min)")
        self.data_min_ = data_min
        self.data_max_ = data_max
        self.data_range_ = data_range
        self.scale_ = (hi - lo) / _handle_zeros_in_scale(data_range, data_max)
        self.min_ = lo - data_min * self.scale_
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = X.shape[0]
        return self

    def _check_range(self):
        fr = self.feature_range
        if isinstance(fr, (str, bytes)):  # "01" would otherwise unpack into two digits
            raise ValueError(f"feature_range must be a pair of numbers (min, max), got {fr!r}")
        try:
            lo, hi = (float(v) for v in fr)
        except (TypeError, ValueError):
            raise ValueError(f"feature_range must be a pair of numbers (min, max), got {fr!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
            raise ValueError(f"Minimum of desired feature range must be smaller than maximum. Got {fr!r}.")
        return lo, hi

    def transform(self, X):
        """Scale ``X`` (shape (n_samples, n_features)) into ``feature_range``."""
        X = self._check_X(X)
        return X * self.scale_ + self.min_

    def inverse_transform(self, Z):
        """Map scaled values (shape (n_samples, n_features)) back to original units."""
        Z = self._check_X(Z, name="Z")
        return (Z - self.min_) / self.scale_

    def __repr__(self):
        fr = self.feature_range
        return "MinMaxScaler()" if isinstance(fr, tuple) and fr == (0, 1) else f"MinMaxScaler(feature_range={fr!r})"
