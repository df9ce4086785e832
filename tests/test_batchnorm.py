"""BatchNorm: gradients, training against evaluation, running statistics, an
independent reference implementation, the ensemble axis, and BatchNorm inside
``MLP`` and ``train`` (including mini-batches).

The reference implementation below is written the long way on purpose: one
feature at a time, with Python loops over the samples, and a backward pass
that walks the computational graph one node at a time. It shares no code
with ``nnlib.layers.BatchNorm``, whose backward uses the compact closed form.
"""

import math

import numpy as np
import pytest

import nnlib

TOL = 1e-7  # float64 central differences: below 1e-7 means the analytic gradient is right


# -- an independent reference: loops and the computational graph ----------------------


def reference_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    """Batch normalization of a (n, F) batch, one feature and one sample at a time.

    Returns the output (n, F), the new running mean and variance (F,), and a
    cache of every intermediate node of the graph (training only).
    """
    n, F = x.shape
    out = [[0.0] * F for _ in range(n)]
    new_mean, new_var, cache = list(running_mean), list(running_var), []
    for f in range(F):
        column = [float(x[i, f]) for i in range(n)]
        if training:
            mu = sum(column) / n
            centered = [v - mu for v in column]
            squares = [c * c for c in centered]
            var = sum(squares) / n  # population variance: divide by n, not n - 1
            std = math.sqrt(var + eps)
            inv = 1.0 / std
            x_hat = [c * inv for c in centered]
            new_mean[f] = momentum * running_mean[f] + (1.0 - momentum) * mu
            new_var[f] = momentum * running_var[f] + (1.0 - momentum) * var
            cache.append((centered, std, inv, x_hat))
        else:
            inv = 1.0 / math.sqrt(running_var[f] + eps)
            x_hat = [(v - running_mean[f]) * inv for v in column]
            cache.append((None, None, inv, x_hat))
        for i in range(n):
            out[i][f] = gamma[f] * x_hat[i] + beta[f]
    return np.array(out), np.array(new_mean), np.array(new_var), cache


def reference_backward(dy, gamma, cache, training):
    """Backpropagate through the graph of :func:`reference_forward`, node by node.

    Returns dx (n, F), dgamma (F,), dbeta (F,).
    """
    n, F = dy.shape
    dx = [[0.0] * F for _ in range(n)]
    dgamma, dbeta = [0.0] * F, [0.0] * F
    for f in range(F):
        centered, std, inv, x_hat = cache[f]
        g = [float(dy[i, f]) for i in range(n)]
        dbeta[f] = sum(g)                                        # out = gamma * x_hat + beta
        dgamma[f] = sum(g[i] * x_hat[i] for i in range(n))
        dx_hat = [g[i] * gamma[f] for i in range(n)]
        if not training:                                         # x_hat = (x - const) * const
            for i in range(n):
                dx[i][f] = dx_hat[i] * inv
            continue
        dinv = sum(dx_hat[i] * centered[i] for i in range(n))    # x_hat = centered * inv
        dcentered = [dx_hat[i] * inv for i in range(n)]
        dstd = -dinv / (std * std)                               # inv = 1 / std
        dvar = dstd * 0.5 / std                                  # std = sqrt(var + eps)
        dsquares = dvar / n                                      # var = sum(squares) / n
        for i in range(n):
            dcentered[i] += 2.0 * centered[i] * dsquares         # squares = centered ** 2
        dmu = -sum(dcentered)                                    # centered = x - mu
        for i in range(n):
            dx[i][f] = dcentered[i] + dmu / n                    # mu = sum(x) / n
    return np.array(dx), np.array(dgamma), np.array(dbeta)


def random_bn(n_features, rng, n_models=None, momentum=0.9, eps=1e-5):
    """A BatchNorm with non-trivial gamma, beta and running statistics."""
    bn = nnlib.BatchNorm(n_features, momentum=momentum, eps=eps, n_models=n_models)
    shape = bn.params["gamma"].shape
    bn.params["gamma"][:] = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    bn.params["beta"][:] = rng.normal(size=shape)
    bn.running_mean = rng.normal(size=shape)
    bn.running_var = rng.uniform(0.5, 2.0, size=shape)
    return bn


# -- gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("n_models", [None, 3])
def test_gradients_of_a_nonlinear_loss_match_finite_differences(training, n_models):
    """Input, gamma and beta gradients in float64, relative error below 1e-7.

    The scalar is nonlinear in the output (sum of w * tanh(out)), so the upstream
    gradient differs from sample to sample, as it does inside a network.
    """
    rng = np.random.default_rng(11)
    bn = random_bn(5, rng, n_models=n_models)
    shape = (7, 5) if n_models is None else (n_models, 7, 5)
    x = rng.normal(3.0, 2.0, size=shape)
    w = rng.normal(size=shape)
    state = (bn.running_mean.copy(), bn.running_var.copy())

    def loss():
        value = float(np.sum(w * np.tanh(bn.forward(x, training))))
        bn.running_mean, bn.running_var = state[0].copy(), state[1].copy()
        return value

    out = bn.forward(x, training)
    bn.running_mean, bn.running_var = state[0].copy(), state[1].copy()
    dx = bn.backward(w * (1.0 - np.tanh(out) ** 2))
    analytic = {"x": dx, "gamma": bn.grads["gamma"].copy(), "beta": bn.grads["beta"].copy()}
    numeric = {
        "x": nnlib.numerical_gradient(loss, x),
        "gamma": nnlib.numerical_gradient(loss, bn.params["gamma"]),
        "beta": nnlib.numerical_gradient(loss, bn.params["beta"]),
    }
    errors = {k: nnlib.relative_error(analytic[k], numeric[k]) for k in analytic}
    assert max(errors.values()) < TOL, errors
    assert np.abs(dx).max() > 1e-3  # a real gradient, not a vanishing one that trivially agrees


def test_training_mode_input_gradient_sums_to_zero_per_feature():
    """Shifting a whole feature changes nothing in training mode, so dx sums to 0 over the batch."""
    rng = np.random.default_rng(2)
    bn = random_bn(4, rng)
    bn.forward(rng.normal(size=(9, 4)), training=True)
    dx = bn.backward(rng.normal(size=(9, 4)))
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-12)
    assert np.abs(dx).max() > 0.1


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nnlib.BatchNorm(3).backward(np.ones((2, 3)))


# -- the independent reference -----------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("momentum", [0.9, 0.5, 0.0])
def test_agrees_with_the_reference_implementation(training, momentum):
    rng = np.random.default_rng(3)
    bn = random_bn(4, rng, momentum=momentum, eps=1e-3)
    x = rng.normal(-2.0, 4.0, size=(10, 4))
    dy = rng.normal(size=(10, 4))
    gamma, beta = bn.params["gamma"].copy(), bn.params["beta"].copy()
    ref_out, ref_mean, ref_var, cache = reference_forward(
        x, gamma.tolist(), beta.tolist(), bn.running_mean.tolist(), bn.running_var.tolist(), momentum, 1e-3, training
    )
    ref_dx, ref_dgamma, ref_dbeta = reference_backward(dy, gamma.tolist(), cache, training)

    out = bn.forward(x, training)
    dx = bn.backward(dy)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.grads["gamma"], ref_dgamma, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.grads["beta"], ref_dbeta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, ref_mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(bn.running_var, ref_var, rtol=1e-12, atol=1e-15)


def test_reference_implementation_itself_matches_finite_differences():
    """The reference is only useful if it is right: check its backward numerically too."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 2))
    gamma, beta = [1.5, -0.7], [0.3, 0.1]
    dy = rng.normal(size=(6, 2))

    def loss():
        out = reference_forward(x, gamma, beta, [0.0, 0.0], [1.0, 1.0], 0.9, 1e-5, True)[0]
        return float(np.sum(out * dy))

    cache = reference_forward(x, gamma, beta, [0.0, 0.0], [1.0, 1.0], 0.9, 1e-5, True)[3]
    dx = reference_backward(dy, gamma, cache, True)[0]
    assert nnlib.relative_error(dx, nnlib.numerical_gradient(loss, x)) < TOL


# -- training against evaluation -----------------------------------------------------------------


def test_training_mode_uses_batch_statistics_with_population_variance():
    rng = np.random.default_rng(5)
    bn = random_bn(3, rng, eps=1e-5)
    x = rng.normal(10.0, 5.0, size=(20, 3))
    out = bn.forward(x, training=True)
    gamma, beta = bn.params["gamma"], bn.params["beta"]
    population = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=0) + 1e-5) + beta
    sample = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5) + beta
    np.testing.assert_allclose(out, population, rtol=1e-12, atol=1e-12)
    # ddof=1 would scale every output by sqrt(19/20): 2.5% off, far outside the tolerance above
    assert not np.allclose(out, sample, rtol=1e-3, atol=1e-3)


def test_training_output_depends_on_the_batch_evaluation_output_does_not():
    rng = np.random.default_rng(6)
    bn = random_bn(3, rng)
    sample = rng.normal(size=(1, 3))
    batch_a = np.vstack([sample, rng.normal(0.0, 1.0, size=(7, 3))])
    batch_b = np.vstack([sample, rng.normal(5.0, 3.0, size=(7, 3))])
    state = (bn.running_mean.copy(), bn.running_var.copy())
    eval_a = bn.forward(batch_a, training=False)[0].copy()
    eval_b = bn.forward(batch_b, training=False)[0].copy()
    eval_alone = bn.forward(sample, training=False)[0].copy()
    np.testing.assert_array_equal(eval_a, eval_b)
    np.testing.assert_allclose(eval_a, eval_alone, rtol=1e-15)
    np.testing.assert_array_equal(bn.running_mean, state[0])  # evaluation changes nothing
    np.testing.assert_array_equal(bn.running_var, state[1])
    train_a = bn.forward(batch_a, training=True)[0].copy()
    train_b = bn.forward(batch_b, training=True)[0].copy()
    assert np.abs(train_a - train_b).min() > 0.1  # the same sample, a different output in every feature


@pytest.mark.parametrize("training", [True, False])
def test_outputs_of_separate_calls_are_separate_arrays(training):
    """A caller may keep an output: the next forward must not write into it."""
    rng = np.random.default_rng(14)
    bn = random_bn(3, rng)
    x = rng.normal(size=(6, 3))
    first = bn.forward(x, training)
    kept = first.copy()
    second = bn.forward(x + 1.0, training)
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, kept)
    model = nnlib.MLP([3, 4, 1], batchnorm=True, rng=0)
    a = model.forward(x, training)
    b = model.forward(x * 2.0, training)
    assert not np.shares_memory(a, b)


def test_a_batch_of_one_in_training_mode_maps_every_input_to_beta():
    rng = np.random.default_rng(7)
    bn = random_bn(3, rng)
    for _ in range(3):
        np.testing.assert_allclose(bn.forward(rng.normal(size=(1, 3)) * 100, training=True)[0], bn.params["beta"], atol=1e-12)


def test_constant_feature_gives_beta_not_nan():
    bn = nnlib.BatchNorm(2)
    x = np.column_stack([np.full(5, 3.0), np.arange(5.0)])
    out = bn.forward(x, training=True)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 0], 0.0, atol=1e-12)


@pytest.mark.parametrize("value", ["yes", 1, 0, None, 1.0, "False"])
def test_training_flag_must_be_a_bool(value):
    bn = nnlib.BatchNorm(2)
    model = nnlib.MLP([2, 3, 1], batchnorm=True, rng=0)
    x = np.ones((4, 2))
    with pytest.raises((TypeError, ValueError), match=f"training must be True or False.*{value!r}"):
        bn.forward(x, training=value)
    with pytest.raises((TypeError, ValueError), match=f"training must be True or False.*{value!r}"):
        model.forward(x, training=value)
    np.testing.assert_array_equal(bn.running_mean, 0.0)  # nothing happened before the error
    np.testing.assert_array_equal(bn.running_var, 1.0)


def test_numpy_bools_are_accepted():
    bn = nnlib.BatchNorm(2)
    x = np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(bn.forward(x, training=np.True_), nnlib.BatchNorm(2).forward(x, training=True))


# -- the running statistics -------------------------------------------------------------------------


def test_running_statistics_follow_the_documented_update_exactly():
    """running = momentum * running + (1 - momentum) * batch, from 0 and 1, batch variance ddof=0."""
    rng = np.random.default_rng(8)
    momentum = 0.8
    bn = nnlib.BatchNorm(3, momentum=momentum)
    np.testing.assert_array_equal(bn.running_mean, np.zeros(3))
    np.testing.assert_array_equal(bn.running_var, np.ones(3))
    mean, var = np.zeros(3), np.ones(3)
    for step in range(5):
        x = rng.normal(step, 1.0 + step, size=(12, 3))
        bn.forward(x, training=True)
        mean = momentum * mean + (1 - momentum) * x.mean(axis=0)
        var = momentum * var + (1 - momentum) * x.var(axis=0, ddof=0)
        np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(bn.running_var, var, rtol=1e-13)
    bn.forward(rng.normal(size=(4, 3)), training=False)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13, atol=1e-15)  # evaluation leaves them alone


def test_running_statistics_settle_geometrically_on_a_fixed_batch():
    """On the same batch every step, the distance to the batch statistics shrinks by momentum per step."""
    rng = np.random.default_rng(9)
    x = rng.normal(4.0, 2.0, size=(30, 2))
    bn = nnlib.BatchNorm(2, momentum=0.9)
    for step in range(1, 31):
        bn.forward(x, training=True)
        np.testing.assert_allclose(x.mean(axis=0) - bn.running_mean, 0.9**step * x.mean(axis=0), rtol=1e-10)
    # after 30 steps 0.9**30 = 4% of the gap is left: evaluation is close to, but not yet, training mode
    gap = np.abs(bn.forward(x, training=False) - bn.forward(x.copy(), training=True)).max()
    assert 1e-3 < gap < 0.2


def test_momentum_and_eps_are_validated_with_the_value_named():
    with pytest.raises(ValueError, match="momentum.*1.5"):
        nnlib.BatchNorm(2, momentum=1.5)
    with pytest.raises(ValueError, match="eps.*-1"):
        nnlib.BatchNorm(2, eps=-1)


def test_repr_names_momentum_and_eps():
    text = repr(nnlib.BatchNorm(4, momentum=0.95, eps=1e-3, n_models=2))
    assert "BatchNorm(4" in text and "0.95" in text and "0.001" in text and "n_models=2" in text


# -- the ensemble axis -----------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_ensemble_batchnorm_equals_separate_layers(training):
    rng = np.random.default_rng(10)
    K = 4
    ens = random_bn(3, rng, n_models=K)
    singles = []
    for k in range(K):
        single = nnlib.BatchNorm(3)
        single.params = {key: v[k].copy() for key, v in ens.params.items()}
        single.grads = {key: np.zeros(3) for key in ens.params}
        single.running_mean, single.running_var = ens.running_mean[k].copy(), ens.running_var[k].copy()
        singles.append(single)
    x = rng.normal(2.0, 3.0, size=(K, 9, 3))
    dy = rng.normal(size=(K, 9, 3))
    out = ens.forward(x, training)
    dx = ens.backward(dy)
    for k, single in enumerate(singles):
        np.testing.assert_allclose(out[k], single.forward(x[k], training), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(dx[k], single.backward(dy[k]), rtol=1e-12, atol=1e-13)
        for key in ("gamma", "beta"):
            np.testing.assert_allclose(ens.grads[key][k], single.grads[key], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(ens.running_mean[k], single.running_mean, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ens.running_var[k], single.running_var, rtol=1e-13)
    if training:  # the models of an ensemble do not share statistics: each saw its own batch
        assert np.ptp(ens.running_mean, axis=0).min() > 0


# -- inside MLP and train ------------------------------------------------------------------------------


def test_mlp_places_batchnorm_between_each_hidden_dense_and_its_activation():
    model = nnlib.MLP([2, 18, 4, 1], batchnorm=True, rng=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "BatchNorm", "ReLU", "Dense", "BatchNorm", "ReLU", "Dense", "Sigmoid"]
    dense = model.dense_layers
    assert [d.bias for d in dense] == [False, False, True]  # beta replaces the hidden biases
    bns = [layer for layer in model.layers if isinstance(layer, nnlib.BatchNorm)]
    assert [bn.n_features for bn in bns] == [18, 4]


def test_mlp_passes_momentum_and_eps_to_every_batchnorm():
    model = nnlib.MLP([2, 5, 5, 1], batchnorm=True, bn_momentum=0.5, bn_eps=1e-3, rng=0)
    bns = [layer for layer in model.layers if isinstance(layer, nnlib.BatchNorm)]
    assert [(bn.momentum, bn.eps) for bn in bns] == [(0.5, 1e-3), (0.5, 1e-3)]


def test_mlp_whole_network_gradients_in_training_mode():
    rng = np.random.default_rng(12)
    model = nnlib.MLP([3, 6, 4, 1], batchnorm=True, rng=1)
    for layer in model.layers:
        if isinstance(layer, nnlib.BatchNorm):
            layer.params["gamma"][:] = rng.uniform(0.5, 1.5, size=layer.n_features)
            layer.params["beta"][:] = rng.uniform(0.5, 1.0, size=layer.n_features)  # keeps most ReLU inputs away from 0
    X = rng.normal(size=(12, 3))
    y = (rng.uniform(size=(12, 1)) > 0.5).astype(float)
    errors = nnlib.check_model(model, X, y, loss="bce", training=True)
    assert {"1.gamma", "1.beta", "4.gamma", "4.beta", "0.W", "3.W", "6.W", "6.b"} <= set(errors)
    assert max(errors.values()) < TOL, errors


@pytest.fixture
def trained_bn_model():
    """A BatchNorm MLP trained a little on a standardized spiral, and that data."""
    X, y = nnlib.make_spiral(n_per_class=40, rng=0)
    X = nnlib.StandardScaler().fit_transform(X)
    model = nnlib.MLP([2, 8, 4, 1], batchnorm=True, rng=0)
    nnlib.train(model, X, y, lr=0.3, epochs=100)
    return model, X, y


def test_mlp_forward_defaults_to_evaluation_mode(trained_bn_model):
    model, X, _ = trained_bn_model
    bns = [layer for layer in model.layers if isinstance(layer, nnlib.BatchNorm)]
    stats = [(bn.running_mean.copy(), bn.running_var.copy()) for bn in bns]
    full = model.forward(X)
    np.testing.assert_array_equal(full, model.forward(X, training=False))
    np.testing.assert_array_equal(full, model.predict(X))
    # one sample alone gets the prediction it gets inside the batch
    np.testing.assert_allclose(model.forward(X[:1]), full[:1], rtol=1e-13)
    np.testing.assert_allclose(model.forward(X[::-1])[::-1], full, rtol=1e-13)
    for bn, (m, v) in zip(bns, stats, strict=True):  # and nothing moved
        np.testing.assert_array_equal(bn.running_mean, m)
        np.testing.assert_array_equal(bn.running_var, v)


def test_mlp_training_mode_prediction_depends_on_the_rest_of_the_batch(trained_bn_model):
    model, X, _ = trained_bn_model
    alone = model.copy().forward(X[:1], training=True)
    with_class0 = model.copy().forward(X[:40], training=True)[:1]
    with_class1 = model.copy().forward(np.vstack([X[:1], X[40:]]), training=True)[:1]
    in_eval = model.forward(X[:1])
    assert abs(with_class0.item() - with_class1.item()) > 1e-3
    assert abs(alone.item() - in_eval.item()) > 1e-3
    # alone, every BatchNorm outputs its beta: the input no longer matters at all
    np.testing.assert_allclose(alone, model.copy().forward(X[5:6], training=True), rtol=1e-12)


def test_train_uses_training_mode_and_updates_running_statistics(trained_bn_model):
    model, X, y = trained_bn_model
    first = next(layer for layer in model.layers if isinstance(layer, nnlib.BatchNorm))
    before = first.running_mean.copy()
    nnlib.train(model, X, y, lr=1e-9, epochs=1)
    pre = X @ model.dense_layers[0].params["W"]  # what the first BatchNorm saw (its Dense has no bias)
    np.testing.assert_allclose(first.running_mean, 0.9 * before + 0.1 * pre.mean(axis=0), rtol=1e-7, atol=1e-12)


def test_a_training_batch_of_one_sample_is_refused_because_it_has_no_gradient(param_snapshot, assert_same_params):
    """A batch of one sample has zero variance: BatchNorm outputs beta whatever the input, so
    every gradient below it would be zero. Forward shows it; backward and train refuse to learn from it."""
    X, y = nnlib.make_spiral(n_per_class=5, rng=1)
    model = nnlib.MLP([2, 6, 3, 1], batchnorm=True, rng=2)
    out = model.copy().forward(X[:1], training=True)
    np.testing.assert_allclose(model.copy().forward(X[5:6], training=True), out, rtol=1e-12)  # input no longer matters
    before = param_snapshot(model)
    stats = [(b.running_mean.copy(), b.running_var.copy()) for b in model.layers if isinstance(b, nnlib.BatchNorm)]
    for batch_size, pattern in [(1, "batch_size=1"), (3, "10 samples in batches of 3 leave a last batch of 1")]:
        with pytest.raises(ValueError, match=f"at least 2 samples, but {pattern}"):
            nnlib.train(model, X, y, lr=0.5, epochs=3, batch_size=batch_size, rng=0)
    with pytest.raises(ValueError, match="X has a single sample"):
        nnlib.train(model, X[:1], y[:1], lr=0.5, epochs=3)
    assert_same_params(before, model)
    for (m0, v0), bn in zip(stats, [b for b in model.layers if isinstance(b, nnlib.BatchNorm)], strict=True):
        np.testing.assert_array_equal(bn.running_mean, m0)
        np.testing.assert_array_equal(bn.running_var, v0)
    probe = model.copy()
    probe.forward(X[:1], training=True)
    with pytest.raises(ValueError, match="cannot backpropagate a training-mode batch of 1 sample"):
        probe.backward(np.ones((1, 1)))
    probe.forward(X[:1], training=False)  # evaluation mode: a fixed affine map, fine for one sample
    assert np.isfinite(probe.backward(np.ones((1, 1)))).all()
    nnlib.train(model, X, y, lr=0.5, epochs=3, batch_size=4, rng=0)  # last batch of 2: accepted


def test_train_with_batch_size_of_the_whole_set_is_full_batch():
    X, y = nnlib.make_spiral(n_per_class=15, rng=3)
    a = nnlib.MLP([2, 6, 1], batchnorm=True, rng=4)
    b = a.copy()
    ha = nnlib.train(a, X, y, lr=0.2, epochs=20)
    hb = nnlib.train(b, X, y, lr=0.2, epochs=20, batch_size=len(X), rng=0)
    np.testing.assert_array_equal(ha.loss, hb.loss)
    np.testing.assert_array_equal(a.layers[1].running_mean, b.layers[1].running_mean)


def two_blobs(n_per_class, rng):
    """An easy problem: two Gaussian blobs, (2n, 2) inputs and (2n, 1) labels."""
    gen = np.random.default_rng(rng)
    X = np.vstack([gen.normal(-1.5, 1.0, size=(n_per_class, 2)), gen.normal(1.5, 1.0, size=(n_per_class, 2))])
    return X, np.repeat([0.0, 1.0], n_per_class)[:, None]


def test_mini_batch_training_is_reproducible_and_batch_dependent():
    X, y = two_blobs(30, rng=5)
    base = nnlib.MLP([2, 8, 4, 1], batchnorm=True, rng=6)
    runs = {}
    for key, kwargs in {"b10": dict(batch_size=10, rng=0), "b10 again": dict(batch_size=10, rng=0),
                        "b10 other shuffle": dict(batch_size=10, rng=1), "b30": dict(batch_size=30, rng=0)}.items():
        model = base.copy()
        runs[key] = (nnlib.train(model, X, y, lr=0.3, epochs=30, **kwargs), model)
    np.testing.assert_array_equal(runs["b10"][0].loss, runs["b10 again"][0].loss)
    assert not np.array_equal(runs["b10"][0].loss, runs["b10 other shuffle"][0].loss)
    assert not np.allclose(runs["b10"][0].loss, runs["b30"][0].loss, rtol=1e-3)
    # mini-batch training learns, and the running statistics serve evaluation mode
    for hist, model in runs.values():
        assert hist.loss[-1] < 0.5 * hist.loss[0]
        assert nnlib.accuracy(model.predict(X), y) >= 0.9


def test_mini_batch_training_mode_predictions_scatter_more_for_small_batches(trained_bn_model):
    """The same sample, training mode, 30 random batches: the spread shrinks as the batch grows."""
    model, X, _ = trained_bn_model
    rng = np.random.default_rng(13)
    spread = {}
    for size in (4, 16, 64):
        preds = []
        for _ in range(30):
            others = rng.choice(np.arange(1, len(X)), size=size - 1, replace=False)
            preds.append(model.copy().forward(np.vstack([X[:1], X[others]]), training=True)[0, 0])
        spread[size] = np.std(preds)
    assert spread[4] > spread[16] > spread[64] > 0, spread


def test_ensemble_mlp_with_batchnorm_trains_like_separate_networks():
    X, y = nnlib.make_spiral(n_per_class=20, rng=7)
    X = nnlib.StandardScaler().fit_transform(X)
    seeds = [0, 1, 2]
    lrs = np.array([0.05, 0.3, 1.0])
    ens = nnlib.MLP([2, 6, 4, 1], batchnorm=True, rng=seeds)
    hist = nnlib.train(ens, X, y, lr=lrs, epochs=25, metrics=["accuracy"])
    for k, seed in enumerate(seeds):
        single = nnlib.MLP([2, 6, 4, 1], batchnorm=True, rng=seed)
        h = nnlib.train(single, X, y, lr=float(lrs[k]), epochs=25, metrics=["accuracy"])
        np.testing.assert_allclose(hist.run(k).loss, h.loss, rtol=1e-10)
        np.testing.assert_allclose(hist.run(k).metrics["accuracy"], h.metrics["accuracy"], rtol=0, atol=1e-12)
        member = ens.member(k)
        for ours, theirs in zip(member.layers, single.layers, strict=True):
            if isinstance(ours, nnlib.BatchNorm):
                np.testing.assert_allclose(ours.running_mean, theirs.running_mean, rtol=1e-10, atol=1e-12)
                np.testing.assert_allclose(ours.running_var, theirs.running_var, rtol=1e-10)


# -- the plot helpers of notebook 04 -----------------------------------------------------------------------


def test_quantile_table_and_bands():
    from matplotlib.figure import Figure

    from nnlib.plotting import plot_quantile_bands, quantile_table

    values = np.arange(101.0)
    np.testing.assert_allclose(quantile_table(values), [5, 25, 50, 75, 95])
    steps = np.array([1.0, 10.0, 100.0])
    q = np.array([quantile_table(values * k) for k in (1, 2, 3)])
    ax = Figure().subplots()
    line, inner, outer = plot_quantile_bands(steps, q, ax=ax)
    np.testing.assert_allclose(line.get_ydata(), [50, 100, 150])
    assert inner.get_paths() and outer.get_paths()
    with pytest.raises(ValueError, match=r"quantiles must have shape \(3, 5\), got \(3, 4\)"):
        plot_quantile_bands(steps, q[:, :4], ax=ax)


def test_plot_against_lr_draws_median_and_range_of_finite_values():
    from matplotlib.figure import Figure

    from nnlib.plotting import plot_against_lr

    lrs = np.array([0.1, 1.0, 10.0])
    values = np.array([[1.0, 2.0, 9.0], [np.nan, 4.0, 6.0], [np.nan, np.nan, np.nan]])
    ax = Figure().subplots()
    bars = plot_against_lr(lrs, values, ax=ax, offset=2.0)
    x, med = bars.lines[0].get_data()
    np.testing.assert_allclose(x, lrs * 2.0)
    np.testing.assert_allclose(med[:2], [2.0, 5.0])
    assert np.isnan(med[2])
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="values must have shape"):
        plot_against_lr(lrs, values[:2], ax=ax)


def test_figure_png_renders_without_pyplot():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from nnlib.plotting import figure_png

    before = plt.get_fignums()
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    png = figure_png(fig, dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == before
    assert figure_png(fig, dpi=50) == png  # the same figure, the same bytes
