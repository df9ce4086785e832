"""MLP: structure, shapes, whole-network gradient checks, copies."""

import numpy as np
import pytest

import nnlib
from nnlib.layers import BatchNorm, Dense, ReLU, Sigmoid, Tanh

TOL = 1e-7


def relu_inputs_clear_of_kink(model, X, margin=1e-3):
    """Smallest |pre-activation| feeding any ReLU of ``model`` on ``X``.

    A central difference with h = 1e-6 is only valid if no ReLU input crosses
    0 when one parameter or input moves by h; a margin of 1e-3 (1000 steps,
    times weights and inputs of order 1) keeps every ReLU on one side.
    """
    x = np.asarray(X, dtype=float)
    smallest = np.inf
    for layer in model.layers:
        if isinstance(layer, ReLU):
            smallest = min(smallest, float(np.abs(x).min()))
        x = layer.forward(x, True)
    return smallest > margin


def data(loss, n=6, features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = rng.integers(0, 2, size=(n, 1)).astype(float) if loss == "bce" else rng.normal(size=(n, 1))
    return X, y


@pytest.mark.parametrize("hidden", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["bce", "mse"])
@pytest.mark.parametrize("rng", [0, [0, 1, 2]], ids=["single", "ensemble"])
def test_whole_network_gradients(hidden, loss, rng):
    X, y = data(loss)
    model = nnlib.MLP([3, 5, 4, 1], hidden=hidden, output="sigmoid" if loss == "bce" else None, init="xavier", rng=rng)
    # Nonzero biases, as after training: with zero biases a hidden unit whose
    # inputs are all dead ReLUs sits exactly on the next ReLU's kink.
    bias_rng = np.random.default_rng(100)
    for dense in model.dense_layers:
        dense.params["b"][:] = bias_rng.normal(scale=0.5, size=dense.params["b"].shape)
    if hidden == "relu":
        assert relu_inputs_clear_of_kink(model, X), "pick another seed: a ReLU input sits near 0"
    errors = nnlib.check_model(model, X, y, loss=loss)
    assert len(errors) == 1 + 6  # x and W, b of three Dense layers
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_whole_network_gradients_with_batchnorm(hidden):
    X, y = data("bce", n=8)
    model = nnlib.MLP([3, 5, 4, 1], hidden=hidden, batchnorm=True, rng=[3, 4])
    if hidden == "relu":
        assert relu_inputs_clear_of_kink(model, X)
    errors = nnlib.check_model(model, X, y)
    assert max(errors.values()) < TOL, errors


def test_structure_of_the_spiral_network():
    model = nnlib.MLP([2, 18, 4, 1], rng=0)
    assert [type(layer) for layer in model.layers] == [Dense, ReLU, Dense, ReLU, Dense, Sigmoid]
    assert [d.params["W"].shape for d in model.dense_layers] == [(2, 18), (18, 4), (4, 1)]
    assert model.n_params == 2 * 18 + 18 + 18 * 4 + 4 + 4 * 1 + 1
    assert model.n_models is None
    text = repr(model)
    assert text.startswith("MLP([2, 18, 4, 1], hidden='relu', output='sigmoid'") and "135 parameters" in text


def test_structure_with_tanh_linear_output_and_batchnorm():
    model = nnlib.MLP([1, 8, 8, 1], hidden="tanh", output=None, batchnorm=True, rng=0)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [Dense, BatchNorm, Tanh, Dense, BatchNorm, Tanh, Dense]
    assert [d.bias for d in model.dense_layers] == [False, False, True]


def test_forward_shapes_single_and_ensemble():
    X = np.zeros((5, 2))
    assert nnlib.MLP([2, 3, 1], rng=0).forward(X).shape == (5, 1)
    ens = nnlib.MLP([2, 3, 1], rng=range(4))
    assert ens.n_models == 4
    assert ens.forward(X).shape == (4, 5, 1)
    assert ens.forward(np.zeros((4, 5, 2))).shape == (4, 5, 1)
    assert ens.backward(np.ones((4, 5, 1))).shape == (4, 5, 2)


def test_sigmoid_output_is_a_probability_and_linear_output_is_not_squashed():
    X = np.random.default_rng(0).normal(scale=10.0, size=(50, 2))
    p = nnlib.MLP([2, 4, 1], rng=0).forward(X)
    assert ((p >= 0) & (p <= 1)).all()
    out = nnlib.MLP([2, 4, 1], output=None, rng=0).forward(X)
    assert np.abs(out).max() > 1.0


def test_init_names_reach_the_dense_layers():
    W_small = nnlib.MLP([2, 50, 1], init="small_uniform", rng=0).layers[0].params["W"]
    assert np.abs(W_small).max() <= 0.01
    np.testing.assert_array_equal(nnlib.MLP([2, 50, 1], init="xavier", rng=0).layers[0].params["W"], nnlib.xavier(2, 50, rng=0))


def test_copy_is_independent(small_spiral):
    X, y = small_spiral
    model = nnlib.MLP([2, 4, 1], rng=0)
    twin = model.copy()
    nnlib.train(twin, X, y, lr=0.1, epochs=3)
    assert not np.array_equal(twin.layers[0].params["W"], model.layers[0].params["W"])
    np.testing.assert_array_equal(nnlib.MLP([2, 4, 1], rng=0).layers[0].params["W"], model.layers[0].params["W"])


def test_predict_is_evaluation_mode_forward():
    rng = np.random.default_rng(0)
    model = nnlib.MLP([2, 4, 1], batchnorm=True, rng=0)
    X = rng.normal(size=(10, 2))
    model.forward(X, training=True)  # moves the running statistics
    np.testing.assert_array_equal(model.predict(X), model.forward(X, training=False))
    assert not np.allclose(model.forward(X, training=True), model.predict(X))
