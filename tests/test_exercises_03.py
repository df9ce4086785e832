"""Notebook 03's exercise checkers accept the notebook's hidden reference solutions and reject plausible wrong answers."""

import numpy as np
import pytest
from nbtools import reference_solutions

from nnlib.exercises import Verdict, attempt
from nnlib.exercises import targets as ex

NOTEBOOK = "03_standardizing_targets.ipynb"


def solved():
    """The names the notebook's reference solutions define, executed in one namespace."""
    namespace = {"np": np}
    codes = reference_solutions(NOTEBOOK)
    assert len(codes) >= 3, f"expected at least 3 reference solutions in {NOTEBOOK}, found {len(codes)}"
    for code in codes:
        exec(code, namespace)  # noqa: S102 - the notebook's own solution code
    return namespace


def test_the_reference_solutions_are_accepted():
    ns = solved()
    assert ex.check_gradient_factor(ns["gradient_factor"]).correct
    assert ex.check_to_original(ns["to_original"]).correct
    assert ex.check_original_mse(ns["original_mse"]).correct


@pytest.mark.parametrize("factor", [100, 1, 0.1, 3.16, float("nan")])
def test_a_wrong_gradient_factor_is_rejected(factor):
    verdict = ex.check_gradient_factor(factor)
    assert isinstance(verdict, Verdict) and not verdict.correct


def test_the_squared_factor_is_named_as_the_mse_s():
    assert "MSE's value" in ex.check_gradient_factor(100).message


def test_the_stub_and_non_numbers_get_a_verdict():
    assert not ex.check_gradient_factor(None) and "None" in ex.check_gradient_factor(None).message
    assert not ex.check_gradient_factor("10")
    assert not ex.check_gradient_factor(True)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda z, mean, scale: (z - mean) / scale, "transform"),
    (lambda z, mean, scale: z * scale, "mean is missing"),
    (lambda z, mean, scale: z + mean, "multiplied by the scale"),
    (lambda z, mean, scale: z * scale + mean + 1.0, "expected"),
    (lambda z, mean, scale: None, "None"),
    (lambda z, mean, scale: (z * scale + mean).ravel(), "shape"),
])
def test_a_wrong_inverse_transform_is_rejected(wrong, hint):
    verdict = ex.check_to_original(wrong)
    assert not verdict.correct and hint in verdict.message


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda loss, scale: loss * scale, "squared"),
    (lambda loss, scale: loss, "unchanged"),
    (lambda loss, scale: loss * scale**2 + 1.0, "expected"),
    (lambda loss, scale: None, "None"),
])
def test_a_wrong_original_mse_is_rejected(wrong, hint):
    verdict = ex.check_original_mse(wrong)
    assert not verdict.correct and hint in verdict.message


def test_a_stub_or_a_crash_becomes_a_not_yet_verdict():
    def stub(z, mean, scale):
        raise NotImplementedError

    assert "stub" in attempt(ex.check_to_original, stub).message
    assert not attempt(ex.check_original_mse, lambda loss, scale: 1 / 0)
    assert not ex.check_to_original(3.0) and not ex.check_original_mse("x")


def test_the_checkers_agree_with_the_scaler():
    """The reference: the scaler's own inverse_transform, and the MSE computed in original units."""
    ns = solved()
    rng = np.random.default_rng(0)
    y = rng.normal(130.0, 3100.0, size=(40, 1))
    from nnlib import StandardScaler

    scaler = StandardScaler().fit(y)
    z = scaler.transform(y) + rng.normal(0.0, 0.1, size=y.shape)
    np.testing.assert_allclose(ns["to_original"](z, scaler.mean_, scaler.scale_), scaler.inverse_transform(z))
    loss_std = np.mean((z - scaler.transform(y)) ** 2)
    np.testing.assert_allclose(ns["original_mse"](loss_std, scaler.scale_[0]),
                               np.mean((scaler.inverse_transform(z) - y) ** 2), rtol=1e-10)
