"""Notebook 01's exercise checkers accept the notebook's hidden reference solutions and reject wrong answers."""

import numpy as np
import pytest
from nbtools import reference_solutions

from nnlib.exercises import attempt
from nnlib.exercises import unstable as ex

NOTEBOOK = "01_unstable_gradients.ipynb"


def solutions():
    """Every name the notebook's reference solutions define, after running them as a learner would."""
    namespace = {"np": np}
    for code in reference_solutions(NOTEBOOK):
        exec(code, namespace)  # noqa: S102 - the notebook's own reference code
    return namespace


def test_the_notebook_hides_one_reference_solution_per_exercise():
    names = solutions()
    assert len(reference_solutions(NOTEBOOK)) == 3
    assert {"dense_relu_backward", "sigmoid_backward", "lr_limit"} <= set(names)


@pytest.mark.parametrize(("check", "name"), [
    (ex.check_dense_relu_backward, "dense_relu_backward"),
    (ex.check_sigmoid_backward, "sigmoid_backward"),
    (ex.check_bias_lr_limit, "lr_limit"),
])
def test_each_checker_accepts_the_reference_solution(check, name):
    verdict = attempt(check, solutions()[name])
    assert verdict.correct, verdict.message


def test_dense_relu_backward_without_the_relu_mask_is_rejected():
    def no_mask(x, W, b, dh):
        return x.T @ dh, dh.sum(axis=0), dh @ W.T

    verdict = attempt(ex.check_dense_relu_backward, no_mask)
    assert not verdict.correct and "z > 0" in verdict.message


def test_dense_relu_backward_with_wrong_shapes_or_arity_is_rejected():
    assert not attempt(ex.check_dense_relu_backward, lambda x, W, b, dh: (x.T @ dh, dh.sum(axis=0)))
    verdict = attempt(ex.check_dense_relu_backward, lambda x, W, b, dh: (W.T, b, x))
    assert not verdict.correct and "shape" in verdict.message


def test_sigmoid_backward_that_forgets_the_upstream_gradient_is_rejected():
    def slope_only(z, dy):
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)

    assert not attempt(ex.check_sigmoid_backward, slope_only)
    assert not attempt(ex.check_sigmoid_backward, "not a function")


@pytest.mark.parametrize("wrong", [0.25, 4, 2, 10, None, "8", True])
def test_a_wrong_lr_limit_is_rejected(wrong):
    assert not attempt(ex.check_bias_lr_limit, wrong)


def test_the_lr_limit_accepts_eight_within_the_stated_tolerance():
    assert attempt(ex.check_bias_lr_limit, 8.0 + 0.9 * ex.LR_LIMIT_TOLERANCE)
    assert attempt(ex.check_bias_lr_limit, np.float64(2 / 0.25))


def test_a_stub_is_not_yet_right():
    def stub(*args):
        raise NotImplementedError

    for check in (ex.check_dense_relu_backward, ex.check_sigmoid_backward):
        verdict = attempt(check, stub)
        assert not verdict.correct and "stub" in verdict.message
