"""nnlib.outcomes: the one vocabulary for how a run ended, and the usable learning rates."""

import numpy as np
import pytest

import nnlib
from nnlib import outcomes


def test_every_outcome_has_one_style():
    assert set(outcomes.STYLE) == set(outcomes.OUTCOMES)
    colors = [s["color"] for s in outcomes.STYLE.values()]
    markers = [s["marker"] for s in outcomes.STYLE.values()]
    assert len(set(colors)) == len(colors) and len(set(markers)) == len(markers)


def test_classify_each_outcome_on_hand_made_curves():
    falling = np.linspace(1.0, 0.5, 100)
    flat = np.r_[np.linspace(1.0, 0.7, 50), np.full(50, 0.7)]
    spike_then_falling = np.r_[1.0, 20.0, np.linspace(0.99, 0.5, 98)]
    spike_then_flat = np.r_[1.0, 20.0, np.full(98, 0.69)]
    diverging = np.r_[1.0, 10.0, 1e200, np.inf, np.full(96, np.nan)]
    loss = np.column_stack([falling, flat, spike_then_falling, spike_then_flat, diverging])
    got = outcomes.classify(loss)
    assert got.tolist() == ["slow", "stalled", "spiked", "stalled", "diverged"]
    # a single curve gives a plain string
    assert outcomes.classify(falling) == "slow"
    np.testing.assert_array_equal(outcomes.spiked(loss), [False, False, True, True, True])
    np.testing.assert_array_equal(outcomes.diverged(loss), [False, False, False, False, True])


def test_converged_needs_metric_and_target_and_wins_before_any_non_finite_loss():
    loss = np.column_stack([np.linspace(1.0, 0.1, 10), np.r_[np.linspace(1.0, 0.5, 5), np.full(5, np.nan)]])
    metric = np.column_stack([np.linspace(0.5, 1.0, 10), np.r_[0.5, 0.6, 0.96, np.full(7, np.nan)]])
    assert outcomes.classify(loss).tolist() == ["slow", "diverged"]
    # the second run met the target at epoch 2, then stopped (a sweep pads with NaN): converged
    assert outcomes.classify(loss, metric, 0.95).tolist() == ["converged", "converged"]
    # a target met only after the loss became non-finite does not count
    late = np.r_[1.0, np.inf, np.nan][:, None], np.r_[0.5, 0.5, 0.99][:, None]
    assert outcomes.classify(*late, 0.95).tolist() == ["diverged"]
    with pytest.raises(ValueError, match="shape"):
        outcomes.classify(loss, metric[:5], 0.95)


def test_stall_threshold_is_relative_to_the_loss():
    # The same curve in units a million times larger has the same outcome.
    tiny_steps = 1.0 - 1e-6 * np.arange(200)
    assert outcomes.classify(tiny_steps) == "stalled"
    assert outcomes.classify(tiny_steps * 1e6) == "stalled"
    assert outcomes.classify(1.0 - 1e-3 * np.arange(200)) == "slow"
    assert outcomes.progress(np.full(10, 2.0)) == 0.0
    assert np.isnan(outcomes.progress([1.0]))


def test_real_spiral_runs_at_lr_3_stall_and_at_lr_001_are_slow():
    X, y = nnlib.make_spiral(rng=0)
    hist = nnlib.train(nnlib.MLP([2, 18, 4, 1], rng=range(4)), X, y, lr=np.array([3.0, 3.0, 0.01, 0.01]), epochs=400)
    kinds = outcomes.classify(hist.loss)
    assert kinds[:2].tolist() == ["stalled", "stalled"] and kinds[2:].tolist() == ["slow", "slow"]


def test_usable_lr_range_uses_the_fraction_of_seeds():
    lrs = [0.01, 0.1, 1.0, 10.0]
    grid = np.array([
        ["slow", "slow", "slow", "slow"],
        ["converged", "converged", "converged", "slow"],
        ["converged", "converged", "stalled", "spiked"],
        ["diverged"] * 4,
    ])
    r = outcomes.usable_lr_range(lrs, grid)
    assert (r.low, r.high) == (0.1, 0.1) and r.usable.tolist() == [False, True, False, False]
    np.testing.assert_allclose(r.converged_share, [0, 0.75, 0.5, 0])
    r2 = outcomes.usable_lr_range(lrs, grid, fraction=0.5)
    assert (r2.low, r2.high) == (0.1, 1.0) and r2.decades == pytest.approx(1.0) and str(r2) == "0.1 .. 1"
    none = outcomes.usable_lr_range(lrs, grid, fraction=1.0)
    assert not none.usable.any() and np.isnan(none.low) and str(none) == "none"


@pytest.mark.parametrize("bad, match", [
    (dict(fraction=0), "fraction"), (dict(fraction=1.5), "fraction"), (dict(fraction=True), "fraction"),
    (dict(lrs=[0.1, 0.01]), "strictly increasing"), (dict(outcomes=[["ok"], ["slow"]]), "unknown outcome"),
    (dict(outcomes=[["slow"]]), "shape"),
])
def test_usable_lr_range_rejects_bad_input(bad, match):
    args = dict(lrs=[0.01, 0.1], outcomes=[["slow"], ["converged"]], fraction=0.75) | bad
    with pytest.raises(ValueError, match=match):
        outcomes.usable_lr_range(**args)


def test_counts_lists_every_outcome_in_order():
    c = outcomes.counts(np.array([["slow", "converged"], ["slow", "diverged"]]))
    assert list(c) == list(outcomes.OUTCOMES)
    assert c == {"converged": 1, "slow": 2, "spiked": 0, "stalled": 0, "diverged": 1}
