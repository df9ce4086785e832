"""Same rng, same numbers; another rng, other numbers; no global state touched."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnlib

# Each returns the arrays that depend on rng (the spiral's labels and the
# polynomial's x grid do not).
MAKERS = {
    "spiral": lambda rng: nnlib.make_spiral(n_per_class=30, rng=rng)[:1],
    "polynomial": lambda rng: nnlib.make_polynomial(rng=rng)[1:],
    "he": lambda rng: (nnlib.he(4, 3, rng=rng),),
    "xavier": lambda rng: (nnlib.xavier(4, 3, rng=rng),),
    "small_uniform": lambda rng: (nnlib.small_uniform(4, 3, rng=rng),),
    "mlp": lambda rng: [p for layer in nnlib.MLP([2, 5, 1], rng=rng).layers for p in layer.params.values()],
}


@pytest.mark.parametrize("name", MAKERS)
def test_same_rng_same_arrays_other_rng_other_arrays(name):
    make = MAKERS[name]
    a, b = make(5), make(5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    # a Generator in the same state gives the same numbers as its seed
    for x, y in zip(a, make(np.random.default_rng(5)), strict=True):
        np.testing.assert_array_equal(x, y)
    other = make(6)
    drawn = [i for i, x in enumerate(a) if x.std() > 0]  # the MLP's zero biases are not drawn
    assert drawn
    assert all(not np.array_equal(a[i], other[i]) for i in drawn)


def test_training_with_shuffled_mini_batches_is_reproducible(small_spiral):
    X, y = small_spiral

    def run(seed):
        model = nnlib.MLP([2, 5, 1], rng=0)
        hist = nnlib.train(model, X, y, lr=0.1, epochs=4, batch_size=8, rng=seed)
        return hist.loss, model.layers[0].params["W"]

    (loss_a, W_a), (loss_b, W_b), (loss_c, W_c) = run(1), run(1), run(2)
    np.testing.assert_array_equal(loss_a, loss_b)
    np.testing.assert_array_equal(W_a, W_b)
    assert not np.array_equal(loss_a, loss_c) and not np.array_equal(W_a, W_c)


def test_library_calls_leave_numpy_global_random_state_alone(small_spiral):
    X, y = small_spiral
    before = np.random.get_state()  # noqa: NPY002 - the legacy global state is what must stay untouched
    nnlib.make_spiral(rng=None)
    nnlib.make_polynomial(rng=None)
    model = nnlib.MLP([2, 4, 1], rng=None)
    nnlib.train(model, X, y, epochs=2, batch_size=10, rng=None)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def run_fresh(code):
    """Run ``code`` in a fresh interpreter (nnlib is already imported in this one)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_nnlib_changes_no_global_state():
    out = run_fresh(
        """
        import sys, warnings
        import numpy as np
        state = np.random.get_state()
        err = np.geterr()
        print_opts = np.get_printoptions()
        filters = list(warnings.filters)
        import nnlib
        after = np.random.get_state()  # noqa: NPY002
        assert state[0] == after[0] and (state[1] == after[1]).all() and state[2:] == after[2:], "np.random global state changed"
        assert np.geterr() == err, "numpy error state changed"
        assert np.get_printoptions() == print_opts, "numpy print options changed"
        assert list(warnings.filters) == filters, "warning filters changed"
        # the numeric core never imports matplotlib or ipywidgets
        heavy = sorted(m for m in ("matplotlib", "ipywidgets") if m in sys.modules)
        assert not heavy, heavy
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_importing_nnlib_plotting_leaves_matplotlib_settings_alone():
    out = run_fresh(
        """
        import matplotlib
        matplotlib.use("Agg")
        before = dict(matplotlib.rcParams)
        import nnlib, nnlib.plotting
        changed = sorted(k for k, v in matplotlib.rcParams.items() if str(before[k]) != str(v))
        assert not changed, changed
        print("ok")
        """
    )
    assert out.strip() == "ok"
