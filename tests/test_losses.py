"""Losses and metrics: values against direct formulas, stability, reduction, ensembles."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import r2_score as sk_r2_score

import nnlib
from nnlib.losses import get_loss


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_mse_value_and_gradient(rng):
    y_hat, y = rng.normal(size=(7, 2)), rng.normal(size=(7, 2))
    mse = nnlib.MSE()
    assert mse(y_hat, y) == pytest.approx(np.sum((y_hat - y) ** 2) / 14, rel=1e-14)
    np.testing.assert_allclose(mse.gradient(y_hat, y), 2 * (y_hat - y) / 14, rtol=1e-14)
    numeric = nnlib.numerical_gradient(lambda: mse(y_hat, y), y_hat)
    assert nnlib.relative_error(mse.gradient(y_hat, y), numeric) < 1e-8


def test_bce_value_and_gradient(rng):
    p = rng.uniform(0.05, 0.95, size=(7, 1))
    y = rng.integers(0, 2, size=(7, 1)).astype(float)
    bce = nnlib.BinaryCrossEntropy()
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert bce(p, y) == pytest.approx(expected, rel=1e-14)
    numeric = nnlib.numerical_gradient(lambda: bce(p, y), p)
    assert nnlib.relative_error(bce.gradient(p, y), numeric) < 1e-8


def test_bce_from_logits_agrees_with_probability_form(rng):
    z = rng.normal(scale=3.0, size=(9, 1))
    y = rng.integers(0, 2, size=(9, 1)).astype(float)
    bce = nnlib.BinaryCrossEntropy()
    p = 1.0 / (1.0 + np.exp(-z))
    assert bce.value_from_logits(z, y) == pytest.approx(bce(p, y), rel=1e-12)
    # d loss/dz = d loss/dp * dp/dz = ... = (p - y) / n
    np.testing.assert_allclose(bce.gradient_from_logits(z, y), (p - y) / 9, rtol=1e-12)
    numeric = nnlib.numerical_gradient(lambda: bce.value_from_logits(z, y), z)
    assert nnlib.relative_error(bce.gradient_from_logits(z, y), numeric) < 1e-8


def test_bce_on_probabilities_zero_and_one_is_finite():
    p = np.array([[0.0], [1.0], [0.0], [1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    bce = nnlib.BinaryCrossEntropy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = bce(p, y)
        grad = bce.gradient(p, y)
    assert np.isfinite(value) and np.isfinite(grad).all()
    # two right answers cost ~0, two certain wrong ones cost -log(eps) each
    assert value == pytest.approx(2 * -np.log(bce.eps) / 4, rel=1e-6)
    assert bce(p[:2], y[:2]) < 1e-11


def test_bce_from_logits_is_exact_for_huge_logits():
    z = np.array([[1e3], [-1e3], [1e3], [-1e3], [40.0], [-40.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0], [0.0], [1.0]])
    bce = nnlib.BinaryCrossEntropy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per_row = [bce.value_from_logits(z[i : i + 1], y[i : i + 1]) for i in range(6)]
        grad = bce.gradient_from_logits(z, y)
    # softplus(z) - y z: exactly |z| for a confident wrong answer, ~exp(-|z|) for a right one
    assert per_row[:4] == [1e3, 1e3, 0.0, 0.0]
    assert per_row[4] == pytest.approx(40.0, rel=1e-15)
    np.testing.assert_array_equal(grad, np.array([[1.0], [-1.0], [0.0], [0.0], [1.0], [-1.0]]) / 6)


def test_mean_reduction_does_not_grow_with_the_batch(rng):
    y_hat, y = rng.normal(size=(5, 1)), rng.normal(size=(5, 1))
    p, labels = rng.uniform(0.1, 0.9, size=(5, 1)), rng.integers(0, 2, size=(5, 1)).astype(float)
    for loss, a, b in [(nnlib.MSE(), y_hat, y), (nnlib.BinaryCrossEntropy(), p, labels)]:
        assert loss(np.tile(a, (4, 1)), np.tile(b, (4, 1))) == pytest.approx(loss(a, b), rel=1e-13)
        # the gradient per sample shrinks with n, so the gradient of the mean is unchanged in total
        big = loss.gradient(np.tile(a, (4, 1)), np.tile(b, (4, 1)))
        np.testing.assert_allclose(4 * big[:5], loss.gradient(a, b), rtol=1e-13)


def test_ensemble_values_are_one_per_model(rng):
    y_hat = rng.normal(size=(3, 5, 1))
    z = rng.normal(size=(3, 5, 1))
    y = rng.integers(0, 2, size=(5, 1)).astype(float)
    bce = nnlib.BinaryCrossEntropy()
    for fn, out in [(nnlib.MSE(), y_hat), (bce.value_from_logits, z)]:
        values = fn(out, y)
        assert values.shape == (3,)
        np.testing.assert_allclose(values, [fn(out[k], y) for k in range(3)], rtol=1e-15)
    grads = nnlib.MSE().gradient(y_hat, y)
    np.testing.assert_allclose(grads[1], nnlib.MSE().gradient(y_hat[1], y), rtol=1e-15)


def test_get_loss_by_name_or_object():
    assert isinstance(get_loss("mse"), nnlib.MSE)
    assert isinstance(get_loss("bce"), nnlib.BinaryCrossEntropy)
    custom = nnlib.BinaryCrossEntropy(eps=1e-6)
    assert get_loss(custom) is custom
    assert repr(custom) == "BinaryCrossEntropy(eps=1e-06)"


# -- metrics ---------------------------------------------------------------------


def test_accuracy_counts_thresholded_matches():
    p = np.array([[0.9], [0.2], [0.6], [0.4]])
    y = np.array([[1.0], [0.0], [0.0], [0.0]])
    assert nnlib.accuracy(p, y) == 0.75
    assert nnlib.accuracy(p, y, threshold=0.65) == 1.0
    ens = np.stack([p, 1 - p])
    np.testing.assert_array_equal(nnlib.accuracy(ens, y), [0.75, 0.25])


def test_r2_matches_scikit_learn(rng):
    y = rng.normal(size=(20, 2))
    y_hat = y + rng.normal(scale=0.5, size=(20, 2))
    assert nnlib.r2_score(y_hat, y) == pytest.approx(sk_r2_score(y, y_hat), rel=1e-12)
    ens = np.stack([y_hat, y, np.zeros_like(y)])
    np.testing.assert_allclose(nnlib.r2_score(ens, y), [sk_r2_score(y, e) for e in ens], rtol=1e-12)


def test_r2_of_a_constant_target_is_1_for_a_perfect_fit_and_0_otherwise():
    y = np.full((4, 1), 100.0)
    assert nnlib.r2_score(y.copy(), y) == 1.0
    assert nnlib.r2_score(np.array([[1.0], [2.0], [3.0], [4.0]]), y) == 0.0
    assert nnlib.r2_score(np.array([[5.0]]), np.array([[3.0]])) == 0.0  # one sample: constant too
    # an ordinary target is untouched: 1 - SS_res / SS_tot
    assert nnlib.r2_score(np.array([[0.0], [2.0]]), np.array([[0.0], [1.0]])) == pytest.approx(1 - 1 / 0.5)


# -- mismatched shapes and bad labels ----------------------------------------------

COLUMN = np.array([[0.9], [0.1], [0.8]])
FLAT = np.array([1.0, 0.0, 1.0])
SHAPE_CALLS = [
    ("accuracy", nnlib.accuracy),
    ("r2_score", nnlib.r2_score),
    ("MSE", nnlib.MSE()),
    ("MSE.gradient", nnlib.MSE().gradient),
    ("BCE", nnlib.BinaryCrossEntropy()),
    ("BCE.gradient", nnlib.BinaryCrossEntropy().gradient),
    ("BCE.value_from_logits", nnlib.BinaryCrossEntropy().value_from_logits),
    ("BCE.gradient_from_logits", nnlib.BinaryCrossEntropy().gradient_from_logits),
]


@pytest.mark.parametrize("fn", [c[1] for c in SHAPE_CALLS], ids=[c[0] for c in SHAPE_CALLS])
def test_a_column_and_a_flat_vector_are_not_broadcast_into_a_table(fn):
    # numpy would compare every prediction with every label: accuracy 0.556 here instead of 1
    for y_hat, y in [(COLUMN, FLAT), (FLAT, FLAT), (COLUMN[:2], FLAT[:, None]), (np.stack([COLUMN] * 2), FLAT)]:
        with pytest.raises(ValueError, match=r"must have matching shapes.*got (y_hat|p|z) of shape"):
            fn(y_hat, y)
    assert np.all(np.isfinite(fn(COLUMN, FLAT[:, None])))


def test_accuracy_of_a_perfect_column_is_one():
    assert nnlib.accuracy(COLUMN, FLAT[:, None]) == 1.0


@pytest.mark.parametrize("label", [2.0, -0.5, np.nan])
@pytest.mark.parametrize("method", ["__call__", "value_from_logits"])
def test_bce_rejects_labels_outside_zero_one(method, label):
    bce = nnlib.BinaryCrossEntropy()
    y = np.array([[0.0], [1.0], [label]])
    with pytest.raises(ValueError, match=r"y must hold labels \(or probabilities\) in \[0, 1\] for binary cross-entropy; found"):
        getattr(bce, method)(np.full((3, 1), 0.5), y)
    getattr(bce, method)(np.full((3, 1), 0.5), np.array([[0.0], [1.0], [0.3]]))  # soft labels are fine


@pytest.mark.parametrize(("eps", "exc"), [(0.7, ValueError), (0.0, ValueError), (-1e-12, ValueError), (float("nan"), ValueError), ("1e-12", TypeError), (True, TypeError)])
def test_bce_eps_must_be_small_and_positive(eps, exc):
    with pytest.raises(exc, match="eps must be"):
        nnlib.BinaryCrossEntropy(eps=eps)
    assert nnlib.BinaryCrossEntropy(eps=1e-3).eps == 1e-3


def test_softplus_form_agrees_with_logaddexp_to_the_last_bits():
    # The loss value uses max(z, 0) + log1p(exp(-|z|)), numpy's vectorized
    # functions, instead of np.logaddexp(0, z): the same formula, rounded by
    # different code. It must agree to a few ulps everywhere, warn about no
    # overflow for any finite z, and give inf and NaN where logaddexp does.
    finite = np.concatenate([np.linspace(-800, 800, 4001), np.geomspace(1e-300, 50, 2000), -np.geomspace(1e-300, 50, 2000),
                             [0.0, -0.0]])
    value = nnlib.losses.BinaryCrossEntropy._value_from_logits
    for z, y in ((finite, 0.0), (finite, 1.0), (np.array([np.inf, -np.inf, np.nan]), 0.0)):
        with warnings.catch_warnings(), np.errstate(invalid="ignore" if np.isinf(z).any() else "raise"):
            if np.isfinite(z).all():
                warnings.simplefilter("error")
            per_sample = np.array([value(np.array([[zi]]), np.array([[y]])) for zi in z])
            reference = np.logaddexp(0.0, z) - y * z
        np.testing.assert_array_equal(np.isnan(per_sample), np.isnan(reference))
        np.testing.assert_allclose(per_sample, reference, rtol=4 * np.finfo(float).eps, atol=1e-300)


def test_train_calls_an_overridden_loss_method():
    calls = []

    class Recorded(nnlib.MSE):
        def __call__(self, y_hat, y):
            calls.append(y_hat.shape)
            return super().__call__(y_hat, y)

    X = np.linspace(-1, 1, 8)[:, None]
    nnlib.train(nnlib.MLP([1, 4, 1], output=None, rng=0), X, X ** 2, loss=Recorded(), lr=0.01, epochs=3)
    assert calls == [(8, 1)] * 3


@pytest.mark.parametrize("shape", [(50, 1), (3, 50, 1)])
def test_metrics_for_fixed_targets_equal_the_metrics_bit_for_bit(rng, shape):
    # training evaluates these every epoch; they must be the same numbers
    from nnlib.metrics import accuracy, for_fixed_targets, r2_score

    y_labels = (rng.random((50, 1)) > 0.4).astype(float)
    y_values = rng.normal(size=(50, 1)) * 30
    p = rng.random(shape)
    p.flat[::7] = 0.5  # on the threshold
    p.flat[3] = np.nan
    y_hat = rng.normal(size=shape) * 30
    y_hat.flat[5] = np.inf
    for fn, y, out in ((accuracy, y_labels, p), (r2_score, y_values, y_hat), (r2_score, np.ones((50, 1)), y_hat)):
        fixed = for_fixed_targets(fn, y)
        np.testing.assert_array_equal(fixed(out, y), fn(out, y))
        assert type(fixed(out, y)) is type(fn(out, y))
    assert for_fixed_targets(len, y_labels) is len
