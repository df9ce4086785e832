"""Bad input: a clear error naming the value and what was expected, before any state changes."""

import numpy as np
import pytest

import nnlib


@pytest.fixture
def setup(small_spiral, param_snapshot):
    X, y = small_spiral
    model = nnlib.MLP([2, 4, 1], batchnorm=True, rng=0)
    return model, X, y, param_snapshot(model)


def running_stats(model):
    return [(layer.running_mean.copy(), layer.running_var.copy()) for layer in model.layers if isinstance(layer, nnlib.BatchNorm)]


# -- train -----------------------------------------------------------------------

NAN_X = np.array([[0.0, 1.0], [np.nan, 2.0]])
BAD_TRAIN_CALLS = [
    # (description, keyword overrides, exception, message pattern)
    ("X 1-D", {"X": np.zeros(40)}, ValueError, r"X must be 2-D, got a 1-D array of shape \(40,\)"),
    ("X 4-D", {"X": np.zeros((1, 1, 40, 2))}, ValueError, r"got a 4-D array"),
    ("y 1-D", {"y": np.zeros(40)}, ValueError, r"y must be 2-D, got a 1-D array of shape \(40,\); reshape it with y.reshape\(-1, 1\)"),
    ("rows differ", {"y": np.zeros((39, 1))}, ValueError, r"X has 40 rows \(shape \(40, 2\)\), y has 39"),
    ("NaN in X", {"X": np.vstack([np.full((1, 2), np.nan), np.zeros((39, 2))])}, ValueError, r"X contains NaN or infinity \(2 NaN, 0 inf"),
    ("inf in y", {"y": np.vstack([[[np.inf]], np.zeros((39, 1))]).reshape(40, 1)}, ValueError, r"y contains NaN or infinity \(0 NaN, 1 inf"),
    ("wrong features", {"X": np.zeros((40, 3))}, ValueError, r"X has 3 features, but this MLP is expecting 2 features as input"),
    ("y columns", {"y": np.zeros((40, 2))}, ValueError, r"y has 2 columns, but the model has 1 outputs"),
    ("empty X", {"X": np.zeros((0, 2)), "y": np.zeros((0, 1))}, ValueError, r"X is empty"),
    ("text X", {"X": "data.csv"}, TypeError, r"X must be a numeric array, got str: 'data.csv'"),
    ("unknown loss", {"loss": "hinge"}, ValueError, r"unknown loss 'hinge'; expected one of 'mse', 'bce'"),
    ("lr 0", {"lr": 0}, ValueError, r"lr must be a positive finite number, got 0"),
    ("lr -1", {"lr": -1}, ValueError, r"lr must be a positive finite number, got -1"),
    ("lr nan", {"lr": float("nan")}, ValueError, r"lr must be a positive finite number, got nan"),
    ("lr inf", {"lr": float("inf")}, ValueError, r"lr must be a positive finite number, got inf"),
    ("lr text", {"lr": "0.1"}, TypeError, r"lr must be a positive finite number, got str: '0.1'"),
    ("lr True", {"lr": True}, TypeError, r"lr must be a positive finite number, got bool: True"),
    ("lr vector", {"lr": [0.1, 0.2]}, ValueError, r"lr must be a single number for a single network, got an array of shape \(2,\)"),
    ("epochs 0", {"epochs": 0}, ValueError, r"epochs must be at least 1, got 0"),
    ("epochs -5", {"epochs": -5}, ValueError, r"epochs must be at least 1, got -5"),
    ("epochs 2.5", {"epochs": 2.5}, TypeError, r"epochs must be an integer, got float: 2.5"),
    ("epochs '10'", {"epochs": "10"}, TypeError, r"epochs must be an integer, got str: '10'"),
    ("batch_size 0", {"batch_size": 0}, ValueError, r"batch_size must be at least 1, got 0"),
    ("verbose -1", {"verbose": -1}, ValueError, r"verbose must be at least 0, got -1"),
    ("unknown metric", {"metrics": ["f1"]}, ValueError, r"unknown metric 'f1'; expected one of 'accuracy', 'r2'"),
    ("callback", {"callback": 3}, TypeError, r"callback must be callable, got 3"),
    ("bce labels 2", {"y": np.full((40, 1), 2.0)}, ValueError, r"y must hold labels \(or probabilities\) in \[0, 1\] for binary cross-entropy; found 2.0"),
    ("bce labels -1", {"y": np.full((40, 1), -1.0)}, ValueError, r"in \[0, 1\] for binary cross-entropy; found -1.0"),
    ("complex X", {"X": np.zeros((40, 2)) + 1j}, TypeError, r"X must hold real numbers, got a complex array \(dtype complex128\)"),
    ("complex y", {"y": np.zeros((40, 1), dtype=np.complex64)}, TypeError, r"y must hold real numbers, got a complex array"),
    ("lr 10**400", {"lr": 10**400}, ValueError, r"lr must be a positive finite number; got an integer too large for a float \(1000"),
    ("lr complex", {"lr": 0.1j}, TypeError, r"lr must be a positive finite number \(real\), got a complex value"),
    ("X 10**400", {"X": [[10**400, 0]] * 40}, ValueError, r"X holds a number too large for float64"),
    ("epochs 10**400", {"epochs": 10**400}, ValueError, r"epochs=1000.* would need about 1e120 or more GiB for the History \(24 bytes per epoch\), more than nnlib.training.HISTORY_MAX_BYTES"),
    ("epochs 10**8", {"epochs": 10**8}, ValueError, r"epochs=100000000 would need 2.24 GiB for the History \(24 bytes per epoch\)"),
    ("metrics 123", {"metrics": 123}, TypeError, r"metrics must be a list of metric names such as \['accuracy'\] or a dict of name to callable, got int: 123"),
    ("metrics [1]", {"metrics": [1]}, ValueError, r"unknown metric 1; expected one of 'accuracy', 'r2'"),
    ("metric raises", {"metrics": {"boom": lambda p, y: 1 / 0}}, ValueError, r"metric 'boom' failed on the model's output \(shape \(40, 1\)\) and y \(shape \(40, 1\)\): ZeroDivisionError"),
    ("metric shape", {"metrics": {"rows": lambda p, y: p[:, 0]}}, ValueError, r"metric 'rows' must return a number; it returned float64 of shape \(40,\)"),
    ("metric text", {"metrics": {"word": lambda p, y: "good"}}, ValueError, r"metric 'word' must return a number; it returned <U4"),
    ("rng -1 full batch", {"rng": -1}, ValueError, r"rng must be a non-negative int seed, got -1"),
    ("rng text full batch", {"rng": "seed"}, TypeError, r"rng must be None, an int seed or a numpy Generator"),
    ("rng -1 mini-batch", {"rng": -1, "batch_size": 8}, ValueError, r"rng must be a non-negative int seed, got -1"),
    ("batch of 1", {"batch_size": 1}, ValueError, r"a BatchNorm network needs training batches of at least 2 samples, but batch_size=1"),
    ("last batch of 1", {"batch_size": 13}, ValueError, r"40 samples in batches of 13 leave a last batch of 1"),
]


@pytest.mark.parametrize(("overrides", "exc", "pattern"), [c[1:] for c in BAD_TRAIN_CALLS], ids=[c[0] for c in BAD_TRAIN_CALLS])
def test_train_rejects_bad_input_before_changing_anything(setup, assert_same_params, overrides, exc, pattern):
    model, X, y, before = setup
    stats = running_stats(model)
    args = {"X": X, "y": y, "lr": 0.1, "epochs": 3, **overrides}
    with pytest.raises(exc, match=pattern):
        nnlib.train(model, args.pop("X"), args.pop("y"), **args)
    assert_same_params(before, model)
    for (m0, v0), (m1, v1) in zip(stats, running_stats(model), strict=True):
        np.testing.assert_array_equal(m0, m1)
        np.testing.assert_array_equal(v0, v1)


def test_ensemble_lr_vector_must_match_and_be_valid(small_spiral, param_snapshot, assert_same_params):
    X, y = small_spiral
    ens = nnlib.MLP([2, 3, 1], rng=[0, 1, 2])
    before = param_snapshot(ens)
    with pytest.raises(ValueError, match=r"vector of shape \(3,\) \(one per model\), got shape \(2,\)"):
        nnlib.train(ens, X, y, lr=[0.1, 0.2], epochs=2)
    with pytest.raises(ValueError, match=r"positive finite numbers; got -0.1 at index 1"):
        nnlib.train(ens, X, y, lr=[0.1, -0.1, 0.2], epochs=2)
    with pytest.raises(ValueError, match=r"has 2 models on its first axis, but this ensemble has 3"):
        nnlib.train(ens, np.zeros((2, 40, 2)), y, epochs=2)
    assert_same_params(before, ens)


# -- MLP -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"hidden": "gelu"}, ValueError, r"unknown hidden activation 'gelu'; expected one of 'relu', 'sigmoid', 'tanh'"),
        ({"output": "softmax"}, ValueError, r"unknown output activation 'softmax'; expected 'sigmoid' or None"),
        ({"init": "glorot"}, ValueError, r"unknown init 'glorot'; expected one of 'small_uniform', 'xavier', 'he'"),
        ({"sizes": [2]}, ValueError, r"sizes needs at least an input and an output size, got \[2\]"),
        ({"sizes": [2, 0, 1]}, ValueError, r"sizes\[1\] must be at least 1, got 0"),
        ({"sizes": [2, 3.5, 1]}, TypeError, r"sizes\[1\] must be an integer, got float: 3.5"),
        ({"sizes": "2-18-1"}, TypeError, r"sizes must be a list of layer widths"),
        ({"batchnorm": "yes"}, TypeError, r"batchnorm must be True or False, got 'yes'"),
        ({"rng": 1.5}, TypeError, r"rng must be None, an int seed or a numpy Generator, got float 1.5"),
        ({"rng": []}, ValueError, r"rng is an empty sequence"),
    ],
)
def test_mlp_constructor_rejects_bad_settings(kwargs, exc, pattern):
    args = {"sizes": [2, 3, 1], **kwargs}
    with pytest.raises(exc, match=pattern):
        nnlib.MLP(args.pop("sizes"), **args)


def test_forward_rejects_wrong_input(setup):
    model, X, _, _ = setup
    stats = running_stats(model)
    with pytest.raises(ValueError, match=r"x has 3 features, but this MLP is expecting 2 features as input"):
        model.forward(np.zeros((5, 3)), training=True)
    with pytest.raises(ValueError, match=r"x must be 2-D, got a 1-D array of shape \(2,\)"):
        model.forward(np.zeros(2))
    with pytest.raises(ValueError, match=r"x contains NaN or infinity \(1 NaN, 0 inf values\)"):
        model.forward(NAN_X, training=True)
    with pytest.raises(TypeError, match=r"training must be True or False, got str: 'yes'"):
        model.forward(X, training="yes")
    for (m0, v0), (m1, v1) in zip(stats, running_stats(model), strict=True):  # BatchNorm statistics untouched
        np.testing.assert_array_equal(m0, m1)
        np.testing.assert_array_equal(v0, v1)


def test_ensemble_metric_must_return_one_value_per_network(small_spiral, param_snapshot, assert_same_params):
    X, y = small_spiral
    ens = nnlib.MLP([2, 3, 1], batchnorm=True, rng=[0, 1])
    before = param_snapshot(ens)
    stats = running_stats(ens)
    with pytest.raises(ValueError, match=r"metric 'mean' must return an array of shape \(2,\), one number per network; it returned float64 of shape \(\)"):
        nnlib.train(ens, X, y, epochs=2, metrics={"mean": lambda p, t: float(p.mean())})
    assert_same_params(before, ens)
    for (m0, v0), (m1, v1) in zip(stats, running_stats(ens), strict=True):
        np.testing.assert_array_equal(m0, m1)
        np.testing.assert_array_equal(v0, v1)
    hist = nnlib.train(ens, X, y, epochs=2, metrics={"mean": lambda p, t: p.mean(axis=(1, 2))})
    assert hist.metrics["mean"].shape == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"bn_momentum": 5}, ValueError, r"momentum must be a number in \[0, 1\), got 5"),
        ({"bn_momentum": -0.1}, ValueError, r"momentum must be a number in \[0, 1\), got -0.1"),
        ({"bn_eps": 0}, ValueError, r"eps must be a positive finite number, got 0"),
        ({"bn_eps": float("inf")}, ValueError, r"eps must be a finite number, got inf"),
        ({"bn_momentum": "0.9"}, TypeError, r"momentum must be a real number, got str"),
        ({"bn_momentum": 10**400}, ValueError, r"momentum must be a finite number; got an integer too large for a float"),
        ({"rng": -3}, ValueError, r"rng must be a non-negative int seed, got -3"),
        ({"rng": [0, -1]}, ValueError, r"rng\[1\] must be a non-negative int seed, got -1"),
    ],
)
@pytest.mark.parametrize("batchnorm", [False, True])
def test_mlp_checks_batchnorm_settings_and_seeds_with_or_without_batchnorm(kwargs, exc, pattern, batchnorm):
    with pytest.raises(exc, match=pattern):
        nnlib.MLP([2, 3, 1], batchnorm=batchnorm, **kwargs)


@pytest.mark.parametrize("seeds", [range(3), [0, 1, 2], (0, 1, 2), np.arange(3)])
def test_dense_builds_an_ensemble_from_any_sequence_of_seeds_as_mlp_does(seeds):
    layer = nnlib.Dense(2, 4, rng=seeds)
    assert layer.n_models == 3 and layer.params["W"].shape == (3, 2, 4)
    for k in range(3):
        np.testing.assert_array_equal(layer.params["W"][k], nnlib.Dense(2, 4, rng=k).params["W"])
    np.testing.assert_array_equal(layer.params["W"], nnlib.MLP([2, 4, 1], rng=seeds).layers[0].params["W"])


@pytest.mark.parametrize("make", [nnlib.make_spiral, nnlib.make_polynomial])
def test_negative_seed_is_a_value_error(make):
    with pytest.raises(ValueError, match=r"rng must be a non-negative int seed, got -1"):
        make(rng=-1)


@pytest.mark.parametrize("cls", [nnlib.StandardScaler, nnlib.MinMaxScaler])
def test_scalers_reject_complex_and_huge_integers(cls):
    import warnings

    scaler = cls()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning leaks out either
        with pytest.raises(TypeError, match=r"X must hold real numbers, got a complex array"):
            scaler.fit(np.ones((3, 2)) + 0.5j)
    with pytest.raises(ValueError, match=r"X holds a number too large for float64"):
        scaler.fit([[1, 2], [10**400, 3]])
    assert not hasattr(scaler, "scale_")


def test_layers_reject_bad_settings():
    with pytest.raises(ValueError, match=r"fan_in must be at least 1, got 0"):
        nnlib.Dense(0, 3)
    with pytest.raises(ValueError, match=r"unknown init 'normal'"):
        nnlib.Dense(2, 3, init="normal")
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\), got 1.0"):
        nnlib.BatchNorm(3, momentum=1.0)
    with pytest.raises(ValueError, match=r"eps must be a positive finite number, got 0"):
        nnlib.BatchNorm(3, eps=0)


# -- datasets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kwargs", "exc", "pattern"),
    [
        (nnlib.make_spiral, {"n_per_class": 0}, ValueError, r"n_per_class must be at least 1, got 0"),
        (nnlib.make_spiral, {"noise": -0.1}, ValueError, r"noise must be a finite number >= 0, got -0.1"),
        (nnlib.make_spiral, {"noise": float("nan")}, ValueError, r"noise must be a finite number >= 0, got nan"),
        (nnlib.make_spiral, {"rng": "seed"}, TypeError, r"rng must be None, an int seed or a numpy Generator"),
        (nnlib.make_polynomial, {"degree": -1}, ValueError, r"degree must be at least 0, got -1"),
        (nnlib.make_polynomial, {"n_points": 2.0}, TypeError, r"n_points must be an integer, got float: 2.0"),
        (nnlib.make_polynomial, {"x_range": (1.0, -1.0)}, ValueError, r"x_range must be \(low, high\) with low < high, got \(1.0, -1.0\)"),
        (nnlib.make_polynomial, {"scale": True}, TypeError, r"scale must be a number, got True"),
        (nnlib.make_spiral, {"max_theta": float("nan")}, ValueError, r"max_theta must be a finite number, got nan"),
        (nnlib.make_spiral, {"max_theta": float("inf")}, ValueError, r"max_theta must be a finite number, got inf"),
        (nnlib.make_spiral, {"noise": 1e308}, ValueError, r"noise=1e\+308 make values too large for float64"),
        (nnlib.make_spiral, {"noise": 10**400}, ValueError, r"noise must be a finite number >= 0, got 1000"),
        (nnlib.make_polynomial, {"x_range": (0, float("inf"))}, ValueError, r"x_range\[1\] must be a finite number, got inf"),
        (nnlib.make_polynomial, {"x_range": (float("nan"), 1)}, ValueError, r"x_range\[0\] must be a finite number, got nan"),
        (nnlib.make_polynomial, {"x_range": (0, 1e300)}, ValueError, r"x_range=\(0, 1e\+300\).* make values too large for float64"),
        (nnlib.make_polynomial, {"noise": 1e308}, ValueError, r"noise=1e\+308 make values too large for float64"),
        (nnlib.make_polynomial, {"scale": 1e308}, ValueError, r"scale must be at most 8.99e\+307, got 1e\+308"),
        (nnlib.make_polynomial, {"scale": 1e300, "x_range": (0, 1e10)}, ValueError, r"make values too large for float64"),
    ],
)
def test_dataset_makers_reject_bad_arguments(make, kwargs, exc, pattern):
    # A fixed rng: whether noise=1e308 overflows depends on the draws (all 40
    # normal draws below 1.8 in size would not), so fresh entropy made it flaky.
    with pytest.raises(exc, match=pattern):
        make(**{"rng": 0, **kwargs})


# -- scalers ----------------------------------------------------------------------

SCALERS = [nnlib.StandardScaler, nnlib.MinMaxScaler]
FITTED_ATTRS = ("mean_", "var_", "scale_", "data_min_", "data_max_", "data_range_", "min_", "n_features_in_", "n_samples_seen_")


def fitted_state(scaler):
    return {k: np.copy(getattr(scaler, k)) for k in FITTED_ATTRS if hasattr(scaler, k)}


def test_not_fitted_error_subclasses_value_and_attribute_error():
    assert issubclass(nnlib.NotFittedError, ValueError)
    assert issubclass(nnlib.NotFittedError, AttributeError)


@pytest.mark.parametrize("cls", SCALERS)
@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_scaler_used_before_fit(cls, method):
    with pytest.raises(nnlib.NotFittedError, match=rf"This {cls.__name__} instance is not fitted yet. Call 'fit'"):
        getattr(cls(), method)(np.zeros((2, 2)))


@pytest.mark.parametrize("cls", SCALERS)
@pytest.mark.parametrize(
    ("method", "X", "pattern"),
    [
        ("transform", np.zeros((4, 3)), r"X has 3 features, but {name} is expecting 2 features as input"),
        ("inverse_transform", np.zeros((4, 1)), r"Z has 1 features, but {name} is expecting 2 features as input"),
        ("fit", NAN_X, r"X contains NaN or infinity \(1 NaN, 0 inf values\)"),
        ("fit", np.array([[1.0, np.inf]]), r"X contains NaN or infinity \(0 NaN, 1 inf values\)"),
        ("transform", NAN_X, r"X contains NaN or infinity"),
        ("fit", np.zeros(3), r"X must be 2-D, got a 1-D array"),
        ("fit", np.zeros((2, 2, 2)), r"X must be 2-D, got a 3-D array of shape \(2, 2, 2\)"),
        ("fit", [["a", "b"]], r"X must be a numeric array; could not convert it"),
    ],
)
def test_scaler_rejects_bad_input_before_changing_state(cls, method, X, pattern):
    scaler = cls().fit(np.arange(10.0).reshape(5, 2))
    before = fitted_state(scaler)
    exc = TypeError if method == "fit" and isinstance(X, list) else ValueError
    with pytest.raises(exc, match=pattern.format(name=cls.__name__)):
        getattr(scaler, method)(X)
    after = fitted_state(scaler)
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)


@pytest.mark.parametrize("feature_range", [(1, 0), (0, 0), (0, float("inf")), "01", (0, 1, 2)])
def test_minmax_rejects_bad_feature_range(feature_range):
    scaler = nnlib.MinMaxScaler(feature_range=feature_range)
    with pytest.raises(ValueError, match="feature_range|Minimum of desired feature range must be smaller than maximum"):
        scaler.fit(np.zeros((3, 1)))
    assert not hasattr(scaler, "scale_")
