"""An ensemble of K networks gives the same numbers as K separate networks."""

import numpy as np
import pytest

import nnlib

SEEDS = [3, 7, 11]


def params(model):
    return [p for layer in model.layers for p in layer.params.values()]


def assert_params_equal(a, b):
    pa, pb = params(a), params(b)
    assert len(pa) == len(pb)
    for x, y in zip(pa, pb, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_construction_is_bit_identical_to_separate_networks(batchnorm):
    ens = nnlib.MLP([2, 5, 3, 1], batchnorm=batchnorm, init="xavier", rng=SEEDS)
    assert ens.n_models == len(SEEDS)
    for k, seed in enumerate(SEEDS):
        assert_params_equal(ens.member(k), nnlib.MLP([2, 5, 3, 1], batchnorm=batchnorm, init="xavier", rng=seed))


def test_generators_are_accepted_as_seeds():
    gens = [np.random.default_rng(s) for s in SEEDS]
    assert_params_equal(nnlib.MLP([2, 4, 1], rng=gens), nnlib.MLP([2, 4, 1], rng=SEEDS))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_forward_and_gradients_match_separate_networks(batchnorm):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 2))
    y = rng.integers(0, 2, size=(9, 1)).astype(float)
    ens = nnlib.MLP([2, 5, 3, 1], batchnorm=batchnorm, rng=SEEDS)
    out = ens.forward(X, training=True)
    ens.backward(nnlib.BinaryCrossEntropy().gradient(out, y))
    for k, seed in enumerate(SEEDS):
        single = nnlib.MLP([2, 5, 3, 1], batchnorm=batchnorm, rng=seed)
        out_k = single.forward(X, training=True)
        np.testing.assert_allclose(out[k], out_k, rtol=1e-13, atol=1e-15)
        single.backward(nnlib.BinaryCrossEntropy().gradient(out_k, y))
        for layer_e, layer_s in zip(ens.layers, single.layers, strict=True):
            for key in layer_s.grads:
                np.testing.assert_allclose(layer_e.grads[key][k], layer_s.grads[key], rtol=1e-12, atol=1e-15)


def test_training_histories_match_with_a_learning_rate_per_model(small_spiral):
    X, y = small_spiral
    lrs = np.array([0.01, 0.1, 0.5])
    ens = nnlib.MLP([2, 6, 4, 1], rng=SEEDS)
    hist = nnlib.train(ens, X, y, lr=lrs, epochs=30, metrics=["accuracy"], track_weights=True)
    np.testing.assert_array_equal(hist.lr, lrs)
    for k, seed in enumerate(SEEDS):
        single = nnlib.MLP([2, 6, 4, 1], rng=seed)
        alone = nnlib.train(single, X, y, lr=lrs[k], epochs=30, metrics=["accuracy"], track_weights=True)
        run = hist.run(k)
        np.testing.assert_allclose(run.loss, alone.loss, rtol=1e-12)
        np.testing.assert_allclose(run.grad_norms, alone.grad_norms, rtol=1e-10)
        np.testing.assert_array_equal(run.metrics["accuracy"], alone.metrics["accuracy"])
        np.testing.assert_allclose(run.max_abs_weight, alone.max_abs_weight, rtol=1e-12)
        for a, b in zip(params(ens.member(k)), params(single), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_mini_batch_training_matches_separate_networks(small_spiral):
    X, y = small_spiral
    ens = nnlib.MLP([2, 4, 1], rng=SEEDS[:2])
    hist = nnlib.train(ens, X, y, lr=0.2, epochs=5, batch_size=8, rng=1)
    for k, seed in enumerate(SEEDS[:2]):
        alone = nnlib.train(nnlib.MLP([2, 4, 1], rng=seed), X, y, lr=0.2, epochs=5, batch_size=8, rng=1)
        np.testing.assert_allclose(hist.run(k).loss, alone.loss, rtol=1e-12)


def test_one_diverging_member_leaves_the_others_alone(raw_polynomial):
    X, y = raw_polynomial
    sizes = [1, 88, 48, 1]  # the tutorial's regression network
    lrs = [1e-6, 1e-2, 1e-6]
    ens = nnlib.MLP(sizes, output=None, rng=SEEDS)
    hist = nnlib.train(ens, X, y, loss="mse", lr=lrs, epochs=30)
    assert hist.diverged_at[0] is None and hist.diverged_at[2] is None
    assert hist.diverged_at[1] is not None
    assert hist.epochs_run == 30  # the others keep training after member 1 diverged
    for k, seed in enumerate(SEEDS):
        single = nnlib.MLP(sizes, output=None, rng=seed)
        alone = nnlib.train(single, X, y, loss="mse", lr=lrs[k], epochs=30)
        run = hist.run(k)
        assert run.diverged_at == alone.diverged_at
        np.testing.assert_allclose(run.loss, alone.loss, rtol=1e-12)
        np.testing.assert_allclose(run.grad_norms, alone.grad_norms, rtol=1e-10)
        if k != 1:
            for a, b in zip(params(ens.member(k)), params(single), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_a_diverged_member_keeps_its_last_finite_weights(raw_polynomial):
    # A single network stops at the non-finite epoch without updating, so its
    # weights are the last finite ones. An ensemble member is frozen by setting
    # its learning rate to 0 (and its gradients to 0, since 0 * inf is NaN)
    # instead, and must end up the same. Seed 1 at lr = 1e-4 has non-finite
    # gradients after it diverges, so it would catch a missing gradient reset.
    X, y = raw_polynomial
    ens = nnlib.MLP([1, 88, 48, 1], output=None, rng=[0, 1, 2])
    hist = nnlib.train(ens, X, y, loss="mse", lr=[1e-6, 1e-4, 1e-6], epochs=20)
    assert hist.diverged_at[1] is not None and hist.epochs_run == 20
    single = nnlib.MLP([1, 88, 48, 1], output=None, rng=1)
    alone = nnlib.train(single, X, y, loss="mse", lr=1e-4, epochs=20)
    assert alone.diverged_at == hist.diverged_at[1]
    member = ens.member(1)
    n_nan = sum(int(np.isnan(p).sum()) for p in params(member))
    assert n_nan == 0, f"the diverged ensemble member has {n_nan} NaN parameters; the separate network has none"
    for a, b in zip(params(member), params(single), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_member_and_stack_round_trip(batchnorm, small_spiral):
    X, y = small_spiral
    ens = nnlib.MLP([2, 5, 1], batchnorm=batchnorm, rng=SEEDS)
    nnlib.train(ens, X, y, lr=0.1, epochs=3)  # moves weights and running statistics
    members = [ens.member(k) for k in range(3)]
    assert all(m.n_models is None for m in members)
    back = nnlib.MLP.stack(members)
    assert back.n_models == 3
    assert_params_equal(back, ens)
    np.testing.assert_array_equal(back.forward(X), ens.forward(X))
    if batchnorm:
        np.testing.assert_array_equal(back.layers[1].running_mean, ens.layers[1].running_mean)
        np.testing.assert_array_equal(members[2].layers[1].running_var, ens.layers[1].running_var[2])
    # copies, not views: training a member leaves the ensemble alone
    before = params(ens)[0].copy()
    nnlib.train(members[0], X, y, lr=0.1, epochs=2)
    np.testing.assert_array_equal(params(ens)[0], before)


def test_stack_of_separate_networks_equals_the_ensemble():
    stacked = nnlib.MLP.stack([nnlib.MLP([2, 4, 1], rng=s) for s in SEEDS])
    assert_params_equal(stacked, nnlib.MLP([2, 4, 1], rng=SEEDS))


def test_member_and_stack_reject_misuse():
    with pytest.raises(ValueError, match="needs an ensemble"):
        nnlib.MLP([2, 3, 1], rng=0).member(0)
    with pytest.raises(ValueError, match="below the ensemble size 2, got 2"):
        nnlib.MLP([2, 3, 1], rng=[0, 1]).member(2)
    with pytest.raises(ValueError, match="architectures differ"):
        nnlib.MLP.stack([nnlib.MLP([2, 3, 1], rng=0), nnlib.MLP([2, 4, 1], rng=1)])


@pytest.mark.parametrize("setting", [{"bn_momentum": 0.5}, {"bn_eps": 1e-3}])
def test_stack_refuses_batchnorm_networks_with_different_momentum_or_eps(setting):
    # The ensemble has one momentum and eps per BatchNorm layer: mixing would
    # silently give every network the first one's.
    nets = [nnlib.MLP([2, 3, 1], batchnorm=True, rng=0), nnlib.MLP([2, 3, 1], batchnorm=True, rng=1, **setting)]
    with pytest.raises(ValueError, match=r"BatchNorm settings differ: layer 1 has momentum=0.9, eps=1e-05 in models\[0\] but momentum=.* in models\[1\]"):
        nnlib.MLP.stack(nets)
    same = nnlib.MLP.stack([nnlib.MLP([2, 3, 1], batchnorm=True, rng=s, **setting) for s in (0, 1)])
    bn = same.layers[1]
    assert (bn.momentum, bn.eps) == (setting.get("bn_momentum", 0.9), setting.get("bn_eps", 1e-5))


# -- blocks and dropped networks -------------------------------------------
# train runs a large ensemble in blocks of at most nnlib.training.BLOCK networks
# and stops computing a network once it has diverged. A do-nothing callback
# makes it train the whole ensemble together, every network every epoch (the
# callback is shown the whole model): that is the reference here. BLOCK is set
# to 2 so that five networks make three blocks.

LRS_SOME_DIVERGE = [1e-6, 1e-3, 1e-5, 1e-2, 3e-6]


@pytest.fixture
def blocks_of_two(monkeypatch):
    monkeypatch.setattr(nnlib.training, "BLOCK", 2)


def train_whole(*args, **kwargs):
    return nnlib.train(*args, callback=lambda epoch, model, loss: None, **kwargs)


def assert_same_history(a, b):
    """Every field of two Histories, bit for bit."""
    assert (a.epochs_run, a.epochs, a.stopped_early) == (b.epochs_run, b.epochs, b.stopped_early)
    assert list(a.diverged_at) == list(b.diverged_at)
    np.testing.assert_array_equal(a.lr, b.lr)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.grad_norms, b.grad_norms)
    assert a.metrics.keys() == b.metrics.keys()
    for name in a.metrics:
        np.testing.assert_array_equal(a.metrics[name], b.metrics[name])
    if a.max_abs_weight is None:
        assert b.max_abs_weight is None
    else:
        np.testing.assert_array_equal(a.max_abs_weight, b.max_abs_weight)


def assert_same_state(a, b):
    """Parameters, gradients and BatchNorm running statistics, bit for bit."""
    for la, lb in zip(a.layers, b.layers, strict=True):
        for key in la.params:
            np.testing.assert_array_equal(la.params[key], lb.params[key])
            np.testing.assert_array_equal(la.grads[key], lb.grads[key])
        if isinstance(la, nnlib.BatchNorm):
            np.testing.assert_array_equal(la.running_mean, lb.running_mean)
            np.testing.assert_array_equal(la.running_var, lb.running_var)


@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_blocks_and_dropping_diverged_networks_change_no_bit(batchnorm, batch_size, blocks_of_two, raw_polynomial):
    X, y = raw_polynomial
    kwargs = dict(loss="mse", lr=LRS_SOME_DIVERGE, epochs=25, metrics=["r2"], track_weights=True, batch_size=batch_size)
    blocked = nnlib.MLP([1, 88, 48, 1], output=None, batchnorm=batchnorm, rng=range(5))
    whole = nnlib.MLP([1, 88, 48, 1], output=None, batchnorm=batchnorm, rng=range(5))
    gen_blocked, gen_whole = np.random.default_rng(7), np.random.default_rng(7)
    hist = nnlib.train(blocked, X, y, rng=gen_blocked, **kwargs)
    ref = train_whole(whole, X, y, rng=gen_whole, **kwargs)
    n_diverged = int(hist.diverged.sum())
    assert 0 < n_diverged < 5, f"the case needs some networks to diverge and some not, got {hist.diverged_at}"
    assert_same_history(hist, ref)
    assert_same_state(blocked, whole)
    # the shuffler ends where the whole ensemble leaves it
    assert gen_blocked.bit_generator.state == gen_whole.bit_generator.state


@pytest.mark.parametrize("batchnorm", [False, True])
def test_a_run_where_every_network_diverges_stops_at_the_last_divergence(batchnorm, blocks_of_two, raw_polynomial):
    X, y = raw_polynomial
    seeds = [0, 2, 3, 4, 5]
    kwargs = dict(loss="mse", lr=3e-3, epochs=200)
    blocked = nnlib.MLP([1, 88, 48, 1], output=None, batchnorm=batchnorm, rng=seeds)
    whole = nnlib.MLP([1, 88, 48, 1], output=None, batchnorm=batchnorm, rng=seeds)
    hist = nnlib.train(blocked, X, y, **kwargs)
    ref = train_whole(whole, X, y, **kwargs)
    assert hist.diverged.all(), f"the case needs every network to diverge, got {hist.diverged_at}"
    assert hist.epochs_run == max(hist.diverged_at) + 1 < 200
    assert_same_history(hist, ref)
    assert_same_state(blocked, whole)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_a_blocked_ensemble_matches_networks_trained_one_by_one(batchnorm, blocks_of_two, small_spiral):
    X, y = small_spiral
    lrs = [0.01, 0.05, 0.1, 0.5, 2.0]
    ens = nnlib.MLP([2, 6, 4, 1], batchnorm=batchnorm, rng=range(5))
    hist = nnlib.train(ens, X, y, lr=lrs, epochs=40, metrics=["accuracy"], track_weights=True)
    for k in range(5):
        single = nnlib.MLP([2, 6, 4, 1], batchnorm=batchnorm, rng=k)
        alone = nnlib.train(single, X, y, lr=lrs[k], epochs=40, metrics=["accuracy"], track_weights=True)
        run = hist.run(k)
        assert run.diverged_at == alone.diverged_at
        np.testing.assert_array_equal(run.loss, alone.loss)
        np.testing.assert_array_equal(run.metrics["accuracy"], alone.metrics["accuracy"])
        np.testing.assert_array_equal(run.max_abs_weight, alone.max_abs_weight)
        # a single network sums its squared gradients in another order: last-bit differences
        np.testing.assert_allclose(run.grad_norms, alone.grad_norms, rtol=1e-13)
        for a, b in zip(params(ens.member(k)), params(single), strict=True):
            np.testing.assert_array_equal(a, b)


class CountingMSE(nnlib.MSE):
    """MSE that records how many networks each call was computed for."""

    def __init__(self):
        self.networks = []

    def __call__(self, y_hat, y):
        self.networks.append(y_hat.shape[0])
        return super().__call__(y_hat, y)


def test_diverged_networks_are_no_longer_computed(blocks_of_two, raw_polynomial):
    X, y = raw_polynomial
    loss = CountingMSE()
    hist = nnlib.train(nnlib.MLP([1, 88, 48, 1], output=None, rng=range(5)), X, y, loss=loss, lr=LRS_SOME_DIVERGE, epochs=25)
    assert hist.diverged.any()
    assert max(loss.networks) <= 2  # blocks of at most BLOCK networks
    # each network is computed up to and including the epoch it diverged at, not after
    expected = sum(25 if d is None else d + 1 for d in hist.diverged_at)
    assert sum(loss.networks) == expected < 5 * 25


def test_an_ensemble_no_larger_than_a_block_trains_in_one_pass(raw_polynomial):
    X, y = raw_polynomial
    loss = CountingMSE()
    nnlib.train(nnlib.MLP([1, 8, 1], output=None, rng=range(nnlib.training.BLOCK)), X, y, loss=loss, lr=1e-7, epochs=3)
    assert loss.networks == [nnlib.training.BLOCK] * 3
