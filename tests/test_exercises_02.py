"""Notebook 02's exercise checkers accept the notebook's hidden reference solutions and reject plausible mistakes."""

import numpy as np
import pytest
from nbtools import reference_solutions

from nnlib import curvature
from nnlib.exercises import attempt
from nnlib.exercises import inputs as ex

NOTEBOOK = "02_standardizing_inputs.ipynb"


@pytest.fixture(scope="module")
def solutions():
    """The names the notebook's reference solutions define, executed in one namespace with numpy."""
    codes = reference_solutions(NOTEBOOK)
    assert len(codes) >= 2, f"expected at least two hidden reference solutions in {NOTEBOOK}, found {len(codes)}"
    namespace = {"np": np}
    for code in codes:
        exec(code, namespace)  # noqa: S102 - the notebook's own reference code
    return namespace


def test_reference_solutions_are_accepted(solutions):
    assert ex.check_largest_stable_lr(solutions["largest_stable_lr"]).correct
    assert ex.check_standardizer(solutions["standardize_train_test"]).correct


def _hessian_limit(Z, factor=2.0, bias=True):
    A = np.column_stack([Z, np.ones(len(Z))]) if bias else Z
    return 2 / np.linalg.eigvalsh(factor * A.T @ A / len(A)).max()


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda Z: _hessian_limit(Z, factor=1.0), "twice too large"),
    (lambda Z: _hessian_limit(Z) / 2, "twice too small"),
    (lambda Z: _hessian_limit(Z, bias=False), "bias is missing"),
    (lambda Z: _hessian_limit(Z) * 1.05, "off by a factor"),
    (lambda Z: 0.66, "not for the raw inputs"),
    (lambda Z: None, "None"),
])
def test_wrong_limits_are_rejected_with_a_hint(wrong, hint):
    verdict = ex.check_largest_stable_lr(wrong)
    assert not verdict.correct and hint in verdict.message


def test_the_limit_checker_tolerates_one_percent_only():
    limit = curvature.max_stable_lr(ex.minmax_training_inputs())
    assert abs(limit - 0.66) < 0.01  # the value the notebook's table prints
    scale = {"value": 1.0}

    def answer(Z):
        return scale["value"] * _hessian_limit(Z)

    for value, ok in [(1.009, True), (0.991, True), (1.011, False), (0.989, False)]:
        scale["value"] = value
        assert ex.check_largest_stable_lr(answer).correct is ok


def test_a_stub_is_not_yet_right():
    def stub(Z):
        raise NotImplementedError

    verdict = attempt(ex.check_largest_stable_lr, stub)
    assert not verdict.correct and "stub" in verdict.message
    assert not attempt(ex.check_standardizer, lambda a, b: None).correct


def _leaky(X_train, X_test):
    both = np.concatenate([X_train, X_test])
    mean, std = both.mean(axis=0), both.std(axis=0)
    return (X_train - mean) / std, (X_test - mean) / std


def _test_own_statistics(X_train, X_test):
    return ((X_train - X_train.mean(0)) / X_train.std(0), (X_test - X_test.mean(0)) / X_test.std(0))


def _sample_std(X_train, X_test):
    mean, std = X_train.mean(0), X_train.std(0, ddof=1)
    return (X_train - mean) / std, (X_test - mean) / std


def _in_place(X_train, X_test):
    mean, std = X_train.mean(0), X_train.std(0)
    X_train -= mean
    X_train /= std
    return X_train, (X_test - mean) / std


def _global_scalars(X_train, X_test):
    return (X_train - X_train.mean()) / X_train.std(), (X_test - X_train.mean()) / X_train.std()


@pytest.mark.parametrize(("wrong", "hint"), [
    (_leaky, "leakage"),
    (_test_own_statistics, "its own statistics"),
    (_sample_std, "ddof=0"),
    (_in_place, "in place"),
    (_global_scalars, "per column"),
    (lambda a, b: (a, b, a), "two arrays"),
])
def test_wrong_standardizers_are_rejected_with_a_hint(wrong, hint):
    verdict = ex.check_standardizer(wrong)
    assert not verdict.correct and hint in verdict.message


def test_a_learner_bug_is_a_verdict_not_an_exception():
    verdict = attempt(ex.check_standardizer, lambda a, b: a @ b)
    assert not verdict.correct and "ValueError" in verdict.message
    assert not ex.check_largest_stable_lr(3.0).correct
