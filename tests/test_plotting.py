"""nnlib.plotting: each helper draws on the given axes and returns what it drew."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nnlib  # noqa: E402
import nnlib.plotting as nplt  # noqa: E402
from nnlib import diagnostics as diag  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def spiral_runs():
    X, y = nnlib.make_spiral(rng=0)
    ens = nnlib.MLP([2, 18, 4, 1], rng=range(4))
    hist = nnlib.train(ens, X, y, lr=np.full(4, 0.1), epochs=30)
    return X, y, ens, hist


def test_importing_plotting_changes_no_rcparams():
    import subprocess
    import sys

    code = ("import matplotlib as m; before = dict(m.rcParams); import nnlib.plotting; "
            "print(sum(before[k] != v for k, v in m.rcParams.items() if k in before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "0"


def test_plot_band_draws_median_and_min_max():
    _, ax = plt.subplots()
    values = np.array([[1.0, 2.0, 3.0], [2.0, np.nan, 4.0]])
    line, band = nplt.plot_band(values, ax=ax)
    np.testing.assert_allclose(line.get_ydata(), [2.0, 3.0])
    verts = band.get_paths()[0].vertices
    assert verts[:, 1].min() == pytest.approx(1.0) and verts[:, 1].max() == pytest.approx(4.0)
    assert line.axes is ax


def test_plot_loss_single_and_ensemble(spiral_runs):
    _, _, _, hist = spiral_runs
    _, ax = plt.subplots()
    line = nplt.plot_loss(hist.run(0), ax=ax)
    np.testing.assert_allclose(line.get_ydata(), hist.run(0).loss)
    assert ax.get_yscale() == "log"
    line, band = nplt.plot_loss(hist)
    np.testing.assert_allclose(line.get_ydata(), np.median(hist.loss, axis=1))
    with pytest.raises(TypeError, match="History"):
        nplt.plot_loss(np.ones(3))


def test_plot_loss_hides_non_finite_values():
    hist = nnlib.History(loss=np.array([1.0, np.inf]), grad_norms=np.ones((2, 1)), diverged_at=1, lr=1.0, epochs=2)
    line = nplt.plot_loss(hist)
    assert np.isnan(line.get_ydata()[1])


def test_plot_grad_norms_one_line_per_dense_layer(spiral_runs):
    _, _, _, hist = spiral_runs
    lines = nplt.plot_grad_norms(hist.run(1))
    assert len(lines) == 3
    np.testing.assert_allclose(lines[2].get_ydata(), hist.run(1).grad_norms[:, 2])
    assert len(nplt.plot_grad_norms(hist)) == 3


def test_decision_boundary_and_fit(spiral_runs):
    X, y, ens, _ = spiral_runs
    model = ens.member(0)
    image, points = nplt.plot_decision_boundary(model, X, y, grid=20)
    assert image.get_array().shape == (20, 20)
    assert 0 <= np.nanmin(image.get_array()) and np.nanmax(image.get_array()) <= 1
    assert points.get_offsets().shape == (500, 2)
    Xp, yp = nnlib.make_polynomial(rng=41)
    pts, line = nplt.plot_fit(lambda x: 2 * x, Xp, yp, n_grid=50)
    np.testing.assert_allclose(line.get_ydata(), 2 * line.get_xdata())
    with pytest.raises(TypeError, match="predict"):
        nplt.plot_fit(42, Xp, yp)


def test_diagnostic_panels(spiral_runs):
    X, y, ens, _ = spiral_runs
    model = ens.member(0)
    snaps = diag.layer_snapshots(model, X, y, training=False)
    assert len(nplt.plot_histograms(snaps, "activation")) == 2
    assert len(nplt.plot_histograms(snaps, "gradient")) == 2
    with pytest.raises(ValueError, match="which"):
        nplt.plot_histograms(snaps, "weights")
    bars = nplt.plot_dead_fraction([0.25, 1.0])
    assert [b.get_height() for b in bars] == [0.25, 1.0]
    lines = nplt.plot_update_ratios(np.full((5, 3), 1e-2))
    assert len(lines) == 4 and np.allclose(lines[0].get_ydata(), -2.0)


def test_depth_outcomes_and_autopsy_plots():
    depth = diag.depth_experiment(depths=(1, 2), width=8, n_samples=16, n_seeds=2)
    assert len(nplt.plot_depth_experiment(depth)) == 2
    kinds = np.array([["slow", "slow"], ["stalled", "diverged"]])
    bars = nplt.plot_run_outcomes([0.1, 10], kinds)
    assert set(bars) == {"slow", "stalled", "diverged"}
    assert [b.get_height() for b in bars["slow"]] == [2, 0]
    assert [b.get_height() for b in bars["diverged"]] == [0, 1]
    Xp, yp = nnlib.make_polynomial(rng=41)
    hist = nnlib.train(nnlib.MLP([1, 88, 48, 1], output=None, rng=0), Xp, yp, loss="mse", lr=1e-4, epochs=50, track_weights=True)
    _, axes = plt.subplots(1, 2)
    lines = nplt.plot_autopsy(diag.divergence_autopsy(hist, steps=3), ax=axes)
    assert len(lines) == 6


def test_grad_norms_of_an_ensemble_that_diverged_everywhere_draw_without_warnings():
    import warnings

    X, y = nnlib.make_polynomial(rng=41)
    ens = nnlib.MLP([1, 8, 1], output=None, rng=[0, 1])
    hist = nnlib.train(ens, X, y, loss="mse", lr=[1e-2, 1e-2], epochs=100)
    assert all(d is not None for d in hist.diverged_at)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lines = nplt.plot_grad_norms(hist)
    assert len(lines) == 2
    assert np.isfinite(lines[0].get_ydata()).any()


def _tiny_sweep(curves):
    """A one-setting, one-lr SweepResult around given loss curves (n_seeds, epochs), none converged or diverged."""
    from nnlib.sweep import SweepResult

    n, epochs = curves.shape
    nan = np.full(n, np.nan)
    return SweepResult(
        problem="polynomial", target=0.95, metric="r2", epochs=epochs, seeds=np.arange(n), lrs=np.array([1.0]),
        setting=np.array(["standardized"] * n), seed=np.arange(n), lr=np.ones(n), outcome=np.array(["stalled"] * n),
        epochs_to_target=nan, diverged_at=nan, final_metric=nan, final_loss=curves[:, -1],
        final_loss_original=curves[:, -1], spiked=np.ones(n, dtype=bool), loss_curves=curves,
    )


def test_sweep_losses_clip_a_spike_that_overflows_when_scaled():
    # A finite spike of 1e305 in standardized units is inf in original units (x 1e6): it must be
    # clipped and marked like any spike, with a finite axis and no overflow warning.
    curves = np.array([[1.0, 1e305, 0.5, 0.5], [1.0, 0.8, 0.6, 0.5]])
    _, ax = plt.subplots()
    with np.errstate(all="raise"):
        drawn = nplt.plot_sweep_losses(_tiny_sweep(curves), "standardized", ax=ax, scale=1e6, ceiling=100.0)
    assert list(drawn) == [1.0]
    low, high = ax.get_ylim()
    assert np.isfinite(high) and high <= 100.0 * 1e6 * 1.5
    assert any("loss above" in t.get_text() for t in ax.texts)
