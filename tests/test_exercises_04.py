"""Notebook 04's exercise checkers accept the notebook's reference solutions and reject plausible wrong answers."""

import numpy as np
import pytest
from nbtools import reference_solutions

from nnlib.exercises import attempt
from nnlib.exercises import batchnorm as ex

NOTEBOOK = "04_batch_normalization.ipynb"


@pytest.fixture(scope="module")
def solutions():
    namespace = {"np": np}
    for code in reference_solutions(NOTEBOOK):
        exec(code, namespace)  # noqa: S102 - the notebook's own reference solutions
    return namespace


def test_the_notebook_hides_a_reference_solution_for_each_exercise(solutions):
    assert len(reference_solutions(NOTEBOOK)) == 2
    assert callable(solutions["update_running"]) and callable(solutions["bn_eval"])


def test_the_reference_solutions_are_accepted(solutions):
    assert attempt(ex.check_running_update, solutions["update_running"]).correct
    assert attempt(ex.check_eval_forward, solutions["bn_eval"]).correct


def test_the_other_momentum_convention_is_rejected_and_named():
    def torch_style(mean, var, x, momentum):
        return (1 - momentum) * mean + momentum * x.mean(axis=0), (1 - momentum) * var + momentum * x.var(axis=0)

    verdict = attempt(ex.check_running_update, torch_style)
    assert not verdict.correct and "NEW value" in verdict.message


def test_a_sample_variance_or_a_hard_coded_momentum_is_rejected():
    def ddof1(mean, var, x, momentum):
        return momentum * mean + (1 - momentum) * x.mean(axis=0), momentum * var + (1 - momentum) * x.var(axis=0, ddof=1)

    def fixed(mean, var, x, momentum):
        return 0.9 * mean + 0.1 * x.mean(axis=0), 0.9 * var + 0.1 * x.var(axis=0)

    assert "variance" in attempt(ex.check_running_update, ddof1).message
    assert not attempt(ex.check_running_update, fixed).correct
    assert not attempt(ex.check_running_update, lambda *a: None).correct


def test_batch_statistics_in_evaluation_mode_are_rejected_and_named():
    def training_mode(x, gamma, beta, running_mean, running_var, eps):
        return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta

    def no_eps(x, gamma, beta, running_mean, running_var, eps):
        return gamma * (x - running_mean) / np.sqrt(running_var) + beta

    verdict = attempt(ex.check_eval_forward, training_mode)
    assert not verdict.correct and "training mode" in verdict.message
    assert "eps" in attempt(ex.check_eval_forward, no_eps).message


def test_a_stub_gets_a_not_yet_verdict():
    def stub(*args):
        raise NotImplementedError

    assert repr(attempt(ex.check_running_update, stub)).startswith("not yet:")
    assert repr(attempt(ex.check_eval_forward, stub)).startswith("not yet:")
