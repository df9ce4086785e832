"""train and History: recording, divergence, stalls, printing, callbacks."""

import warnings

import numpy as np
import pytest

import nnlib


def train_quietly(*args, **kwargs):
    """Run train with every warning turned into an error, and numpy's error state checked."""
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = nnlib.train(*args, **kwargs)
    assert np.geterr() == before
    return hist


def test_history_records_one_row_per_epoch(small_spiral):
    X, y = small_spiral
    model = nnlib.MLP([2, 6, 4, 1], rng=0)
    hist = train_quietly(model, X, y, lr=0.05, epochs=25, metrics=["accuracy"], track_weights=True)
    assert hist.loss.shape == (25,)
    assert hist.grad_norms.shape == (25, 3)
    assert hist.metrics["accuracy"].shape == (25,)
    assert hist.max_abs_weight.shape == (25, 3)
    assert hist.diverged_at is None and hist.diverged is False
    assert hist.epochs == hist.epochs_run == 25
    assert hist.final_loss == hist.loss[-1]
    assert np.isfinite(hist.loss).all() and (hist.grad_norms > 0).all()


def test_first_loss_and_accuracy_are_those_of_the_initial_model(small_spiral):
    X, y = small_spiral
    model = nnlib.MLP([2, 6, 1], rng=0)
    p0 = model.forward(X)
    W0 = model.layers[0].params["W"].copy()
    hist = nnlib.train(model, X, y, lr=0.05, epochs=3, metrics=["accuracy"], track_weights=True)
    # train computes the BCE from logits, the reference from probabilities: equal to rounding
    assert hist.loss[0] == pytest.approx(nnlib.BinaryCrossEntropy()(p0, y), rel=1e-9)
    assert hist.metrics["accuracy"][0] == nnlib.accuracy(p0, y)
    assert hist.max_abs_weight[0, 0] == np.abs(W0).max()


def test_grad_norms_are_the_dense_weight_gradient_norms(small_spiral):
    X, y = small_spiral
    model = nnlib.MLP([2, 5, 1], rng=0)
    probe = model.copy()
    hist = nnlib.train(model, X, y, lr=0.1, epochs=1)
    out = probe.forward(X, training=True)
    probe.backward(nnlib.BinaryCrossEntropy().gradient(out, y))
    expected = [np.linalg.norm(d.grads["W"]) for d in probe.dense_layers]
    np.testing.assert_allclose(hist.grad_norms[0], expected, rtol=1e-9)


def test_training_lowers_the_loss_on_an_easy_problem():
    # two well separated blobs: any working gradient descent fits them
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(60, 1)).astype(float)
    X = rng.normal(size=(60, 2)) + 3.0 * (2 * y - 1)
    hist = train_quietly(nnlib.MLP([2, 8, 1], rng=0), X, y, lr=0.1, epochs=100, metrics=["accuracy"])
    assert hist.loss[-1] < 0.2 * hist.loss[0]
    assert hist.metrics["accuracy"][-1] == 1.0


def test_mse_training_on_standardized_polynomial_learns(raw_polynomial):
    X, y = raw_polynomial
    Xs = nnlib.StandardScaler().fit_transform(X)
    ys = nnlib.StandardScaler().fit_transform(y)
    hist = train_quietly(nnlib.MLP([1, 16, 1], output=None, rng=0), Xs, ys, loss="mse", lr=0.05, epochs=300, metrics=["r2"])
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert hist.metrics["r2"][-1] > 0.5


# -- divergence and stalls -------------------------------------------------------


@pytest.mark.parametrize("lr", [1e-2, 1e-4])
def test_raw_polynomial_diverges_without_exception_or_warning(raw_polynomial, lr):
    X, y = raw_polynomial
    model = nnlib.MLP([1, 88, 48, 1], output=None, rng=0)
    hist = train_quietly(model, X, y, loss="mse", lr=lr, epochs=200)
    d = hist.diverged_at
    assert d is not None and d < 20, f"expected divergence within a few epochs, got {d}"
    assert hist.diverged is True
    assert hist.loss.shape == (d + 1,) and hist.grad_norms.shape == (d + 1, 3)
    assert not np.isfinite(hist.loss[-1])
    assert np.isfinite(hist.loss[:-1]).all()
    assert hist.epochs_run == d + 1 and hist.epochs == 200
    assert "diverged at epoch" in repr(hist)
    # no update was made from the non-finite epoch: the weights are still finite
    assert all(np.isfinite(p).all() for layer in model.layers for p in layer.params.values())


def test_raw_polynomial_at_tiny_lr_does_not_diverge(raw_polynomial):
    X, y = raw_polynomial
    hist = train_quietly(nnlib.MLP([1, 88, 48, 1], output=None, rng=0), X, y, loss="mse", lr=1e-6, epochs=30)
    assert hist.diverged_at is None and np.isfinite(hist.loss).all()


def test_raw_spiral_at_lr_10_blows_up_then_dies_instead_of_diverging():
    # The issue expected a non-finite loss here. With the BCE computed from the
    # logits the loss stays finite. What happens instead (measured): one huge
    # step, the loss spikes ~300x (1.78 -> 580), the weights jump ~1000x, every
    # hidden ReLU ends up dead or saturated, so every Dense weight gradient is
    # exactly 0 from then on. Only the output bias still moves, and at lr = 10
    # it flips between two values of equal loss: the run is stuck at 1.044,
    # worse than guessing 0.5 everywhere (log 2 = 0.693). diverged_at stays None.
    X, y = nnlib.make_spiral(rng=0)
    model = nnlib.MLP([2, 18, 4, 1], rng=0)
    hist = train_quietly(model, X, y, lr=10, epochs=100, track_weights=True)
    assert hist.diverged_at is None and hist.diverged is False
    assert np.isfinite(hist.loss).all()
    assert hist.loss[1] > 100 * hist.loss[0]  # the spike
    assert hist.max_abs_weight[-1].max() > 100 * hist.max_abs_weight[0].max()  # the jump
    dead = np.flatnonzero((hist.grad_norms == 0).all(axis=1))
    assert dead.size and dead[0] < 10
    assert (hist.grad_norms[dead[0] :] == 0).all()  # once dead, dead forever
    assert (hist.max_abs_weight[dead[0] + 1 :] == hist.max_abs_weight[-1]).all()  # weights frozen
    assert np.ptp(hist.loss[-50:]) < 1e-12  # stuck
    assert hist.loss[-1] == pytest.approx(1.044, abs=1e-3) and hist.loss[-1] > np.log(2)


def test_geterr_is_unchanged_after_training(raw_polynomial):
    X, y = raw_polynomial
    before = np.geterr()
    with np.errstate(all="raise"):  # even a strict caller's setting survives
        strict = np.geterr()
        nnlib.train(nnlib.MLP([1, 8, 1], output=None, rng=0), X, y, loss="mse", lr=1e-2, epochs=50)
        assert np.geterr() == strict
    assert np.geterr() == before


# -- History API -----------------------------------------------------------------


def test_run_needs_an_ensemble_history(small_spiral):
    X, y = small_spiral
    hist = nnlib.train(nnlib.MLP([2, 3, 1], rng=0), X, y, epochs=2)
    with pytest.raises(ValueError, match="needs an ensemble History"):
        hist.run(0)


def test_ensemble_history_run_diverged_and_final_loss(raw_polynomial):
    X, y = raw_polynomial
    ens = nnlib.MLP([1, 16, 1], output=None, rng=[0, 1, 2])
    hist = train_quietly(ens, X, y, loss="mse", lr=[1e-6, 1e-2, 1e-6], epochs=40, metrics=["r2"])
    assert hist.n_models == 3
    assert hist.loss.shape == (40, 3) and hist.grad_norms.shape == (40, 3, 2) and hist.metrics["r2"].shape == (40, 3)
    np.testing.assert_array_equal(hist.diverged, [False, True, False])
    d = hist.diverged_at[1]
    assert hist.diverged_at[0] is None and hist.diverged_at[2] is None and d is not None
    run = hist.run(1)
    assert run.diverged_at == d and run.loss.shape == (d + 1,) and run.grad_norms.shape == (d + 1, 2)
    assert not np.isfinite(run.loss[-1]) and run.lr == 1e-2
    assert np.isnan(hist.loss[d + 1 :, 1]).all()  # blanked after divergence
    final = hist.final_loss
    assert final.shape == (3,)
    assert final[0] == hist.loss[-1, 0] and final[2] == hist.loss[-1, 2] and final[1] == run.loss[-1]
    assert "1 diverged" in repr(hist)
    with pytest.raises(ValueError, match="below the ensemble size 3, got 3"):
        hist.run(3)


def test_custom_metric_callable(small_spiral):
    X, y = small_spiral
    hist = nnlib.train(nnlib.MLP([2, 3, 1], rng=0), X, y, epochs=4, metrics={"mean_p": lambda p, t: float(p.mean())})
    assert hist.metrics["mean_p"].shape == (4,) and ((hist.metrics["mean_p"] > 0) & (hist.metrics["mean_p"] < 1)).all()


def test_callback_sees_every_epoch_and_can_stop(small_spiral):
    X, y = small_spiral
    seen = []

    def callback(epoch, model, loss):
        seen.append((epoch, loss))
        return epoch == 4

    hist = nnlib.train(nnlib.MLP([2, 3, 1], rng=0), X, y, epochs=100, callback=callback)
    assert [e for e, _ in seen] == [0, 1, 2, 3, 4]
    assert hist.epochs_run == 5 and hist.stopped_early is True and hist.diverged_at is None
    np.testing.assert_array_equal([v for _, v in seen], hist.loss)


def test_silent_unless_asked(small_spiral, capsys):
    X, y = small_spiral
    nnlib.train(nnlib.MLP([2, 3, 1], rng=0), X, y, epochs=30)
    assert capsys.readouterr().out == ""
    nnlib.train(nnlib.MLP([2, 3, 1], rng=0), X, y, epochs=30, verbose=10)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["0", "10", "20", "29"]
    assert all("loss" in line for line in lines)


def test_mini_batches_cover_every_sample_once_per_epoch(small_spiral):
    X, y = small_spiral
    full = nnlib.train(nnlib.MLP([2, 3, 1], rng=0), X, y, epochs=1, batch_size=None)
    # a batch as large as the data set is full-batch training, bit for bit
    same = nnlib.train(nnlib.MLP([2, 3, 1], rng=0), X, y, epochs=1, batch_size=len(X))
    np.testing.assert_array_equal(full.loss, same.loss)
    mini = nnlib.train(nnlib.MLP([2, 3, 1], rng=0), X, y, epochs=1, batch_size=7, rng=0)
    # the first epoch's loss averages the batches' losses, weighted by size,
    # each taken before that batch's update, so it differs from the full-batch loss
    assert mini.loss.shape == (1,) and np.isfinite(mini.loss).all() and mini.loss[0] != full.loss[0]


def _poly_bn_data():
    X, y = nnlib.make_polynomial(rng=41)
    return nnlib.StandardScaler().fit_transform(X), y  # raw targets: large learning rates diverge


def test_a_diverged_epoch_leaves_batchnorm_running_statistics_as_they_were():
    X, y = _poly_bn_data()
    probe = nnlib.MLP([1, 8, 1], output=None, batchnorm=True, rng=0)
    hist = nnlib.train(probe, X, y, loss="mse", lr=1e3, epochs=200)
    d = hist.diverged_at
    assert d is not None and d >= 1
    # the same network trained for exactly the epochs before the diverged one
    before = nnlib.MLP([1, 8, 1], output=None, batchnorm=True, rng=0)
    nnlib.train(before, X, y, loss="mse", lr=1e3, epochs=d)
    bn_probe, bn_before = probe.layers[1], before.layers[1]
    np.testing.assert_array_equal(bn_probe.running_mean, bn_before.running_mean)
    np.testing.assert_array_equal(bn_probe.running_var, bn_before.running_var)
    assert np.isfinite(bn_probe.running_var).all()


def test_a_frozen_ensemble_member_keeps_its_batchnorm_running_statistics():
    X, y = _poly_bn_data()
    ens = nnlib.MLP([1, 8, 1], output=None, batchnorm=True, rng=[0, 1])
    hist = nnlib.train(ens, X, y, loss="mse", lr=[1e3, 1e-6], epochs=60)
    assert hist.diverged_at[0] is not None and hist.diverged_at[1] is None
    for k, lr in ((0, 1e3), (1, 1e-6)):
        alone = nnlib.MLP([1, 8, 1], output=None, batchnorm=True, rng=k)
        nnlib.train(alone, X, y, loss="mse", lr=lr, epochs=60)
        member = ens.member(k)
        np.testing.assert_array_equal(member.layers[1].running_mean, alone.layers[1].running_mean)
        np.testing.assert_array_equal(member.layers[1].running_var, alone.layers[1].running_var)


def test_bce_needs_a_sigmoid_output():
    X, y = nnlib.make_spiral(n_per_class=10, rng=0)
    model = nnlib.MLP([2, 4, 1], output=None, rng=0)
    before = model.layers[0].params["W"].copy()
    with pytest.raises(ValueError, match="'bce' needs .* sigmoid"):
        nnlib.train(model, X, y, loss="bce", lr=0.1, epochs=5)
    np.testing.assert_array_equal(model.layers[0].params["W"], before)


def test_a_trained_model_keeps_no_reference_to_its_training_data():
    import pickle

    X, y = nnlib.make_spiral(n_per_class=2000, rng=0)  # 64 kB of inputs
    for batchnorm in (False, True):
        model = nnlib.MLP([2, 8, 4, 1], batchnorm=batchnorm, rng=0)
        size_before = len(pickle.dumps(model))
        nnlib.train(model, X, y, lr=0.1, epochs=3, metrics={"mean": lambda p, t: float(p.mean())})
        for layer in model.layers:
            for name, value in vars(layer).items():
                arrays = value if isinstance(value, tuple) else (value,)
                for a in arrays:
                    assert not (isinstance(a, np.ndarray) and a.ndim >= 2 and a.shape[-2] == len(X)), (layer, name)
        # parameters only (plus a few emptied cache slots), not the 64 kB of samples
        assert len(pickle.dumps(model)) < size_before + 200
        out = model.forward(X[:5], training=True)  # still usable: the caches refill on the next forward
        model.backward(np.ones_like(out))


@pytest.mark.parametrize("n_models", [None, 3])
def test_a_diverged_run_does_not_keep_the_preallocated_history_alive(raw_polynomial, n_models):
    X, y = raw_polynomial
    rng = 0 if n_models is None else list(range(n_models))
    model = nnlib.MLP([1, 16, 1], output=None, rng=rng)
    hist = nnlib.train(model, X, y, loss="mse", lr=1.0, epochs=200_000, metrics=["r2"], track_weights=True)
    assert hist.epochs_run < 50 and hist.epochs == 200_000
    for a in (hist.loss, hist.grad_norms, hist.metrics["r2"], hist.max_abs_weight):
        assert a.shape[0] == hist.epochs_run
        assert a.base is None or a.base.nbytes == a.nbytes  # not a view of 200,000 preallocated rows


def test_a_callback_sees_the_whole_ensemble_up_to_date_every_epoch(monkeypatch, raw_polynomial):
    # Without a callback an ensemble trains in blocks and drops diverged
    # networks; a callback is shown the whole model instead, every epoch.
    monkeypatch.setattr(nnlib.training, "BLOCK", 1)
    X, y = raw_polynomial
    model = nnlib.MLP([1, 8, 1], output=None, rng=range(3))
    seen = []

    def callback(epoch, m, loss):
        assert m is model and loss.shape == (3,)
        seen.append(m.layers[0].params["W"].copy())

    hist = nnlib.train(model, X, y, loss="mse", lr=[1e-7, 1e-1, 1e-6], epochs=12, callback=callback)
    assert hist.diverged_at[1] is not None and len(seen) == 12
    # the weights the callback saw in the last epoch are the trained ones, all three networks
    np.testing.assert_array_equal(seen[-1], model.layers[0].params["W"])
    assert not np.array_equal(seen[0], seen[-1])


@pytest.mark.parametrize("rng", [0, range(3)], ids=["single", "ensemble"])
def test_training_updates_the_models_own_arrays(monkeypatch, small_spiral, rng):
    # train works on flat copies (and, for an ensemble, blocks) internally;
    # arrays a caller holds must still be the model's, holding the trained values.
    monkeypatch.setattr(nnlib.training, "BLOCK", 2)
    X, y = small_spiral
    model = nnlib.MLP([2, 5, 1], batchnorm=True, rng=rng)
    held = [(layer, key, layer.params[key], layer.grads[key]) for layer in model.layers for key in layer.params]
    before = [p.copy() for _, _, p, _ in held]
    nnlib.train(model, X, y, lr=0.1, epochs=3)
    for (layer, key, p, g), p0 in zip(held, before, strict=True):
        assert layer.params[key] is p and layer.grads[key] is g
        assert not np.array_equal(p, p0), f"{layer!r} {key} was not trained in place"


def test_clip_norm_scales_each_networks_whole_gradient_to_at_most_that_length(raw_polynomial):
    X, y = raw_polynomial
    lrs = np.array([1e-4, 1e-4])
    clipped = nnlib.MLP([1, 8, 1], output=None, rng=[0, 1])
    start = clipped.copy()
    hist = nnlib.train(clipped, X, y, loss="mse", lr=lrs, epochs=1, clip_norm=10.0)
    # one step by hand: the full gradient of each network, scaled to norm 10
    for k in range(2):
        net = start.member(k)
        out = net.forward(X, training=True)
        net.backward(nnlib.MSE().gradient(out, y))
        grads = [g for layer in net.layers for g in layer.grads.values()]
        norm = np.sqrt(sum(float((g**2).sum()) for g in grads))
        assert norm > 10.0
        for layer, trained in zip(net.layers, clipped.member(k).layers, strict=True):
            for key in layer.params:
                np.testing.assert_allclose(trained.params[key], layer.params[key] - 1e-4 * layer.grads[key] * 10.0 / norm,
                                           rtol=1e-12, atol=1e-15)
    assert hist.grad_norms[0].max() > 10.0  # recorded before clipping
    # the raw polynomial diverges at lr 1e-4 without clipping, and not with it
    free = nnlib.train(nnlib.MLP([1, 8, 1], output=None, rng=0), X, y, loss="mse", lr=1e-2, epochs=200)
    held = nnlib.train(nnlib.MLP([1, 8, 1], output=None, rng=0), X, y, loss="mse", lr=1e-2, epochs=200, clip_norm=1.0)
    assert free.diverged_at is not None and held.diverged_at is None
    with pytest.raises(ValueError, match="clip_norm"):
        nnlib.train(nnlib.MLP([1, 8, 1], output=None, rng=0), X, y, loss="mse", lr=1e-2, epochs=2, clip_norm=0)


def test_final_loss_and_last_epochs_read_each_networks_own_last_row(raw_polynomial):
    X, y = raw_polynomial
    hist = nnlib.train(nnlib.MLP([1, 8, 1], output=None, rng=range(3)), X, y, loss="mse", lr=[1e-7, 1e-1, 1e-6], epochs=12)
    assert hist.diverged_at[1] is not None
    np.testing.assert_array_equal(hist.last_epochs(), [11, hist.diverged_at[1], 11])
    np.testing.assert_array_equal(hist.final_loss, [hist.run(k).loss[-1] for k in range(3)])
    with pytest.raises(ValueError, match="ensemble"):
        hist.run(0).last_epochs()
