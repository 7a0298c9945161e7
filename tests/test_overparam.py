import csv

import numpy as np
import pytest

from convexnn.geometry import ntk_kernel
from convexnn.overparam import (
    DeepReLUNetwork,
    Table,
    analytic_ntk,
    classification,
    convex_gap,
    empirical_ntk,
    jacobian,
    lazy_training,
    learning_rate_transfer,
    loglog_slope,
    relative_error,
    sphere_data,
    train_deep,
    unit_norm,
)
from convexnn.overparam.experiments import linearized_loss, ntk_at_init

SCHEMES = ["standard", "ntk", "allen_zhu"]


@pytest.fixture
def sphere():
    return sphere_data(8, 4, random_state=1)


# ---------------------------------------------------------------- network and backprop
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_backprop_gradient_matches_central_differences(sphere, scheme, loss):
    X, y = sphere
    y = np.sign(y) if loss == "logistic" else y
    net = DeepReLUNetwork.random(4, 5, 3, parameterization=scheme, random_state=0)
    lam = 0.05
    _, grads = net.objective_and_gradient(X, y, lam, loss)
    params, eps = net.parameters(), 1e-6
    for i, p in enumerate(params):
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            shifted = [q.copy() for q in params]
            shifted[i][idx] += eps
            up = net.with_parameters(shifted).objective(X, y, lam, loss)
            shifted[i][idx] -= 2 * eps
            down = net.with_parameters(shifted).objective(X, y, lam, loss)
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[i], numeric, atol=1e-7, rtol=1e-5)


def test_allen_zhu_trains_only_the_middle_layers(sphere):
    X, y = sphere
    net = DeepReLUNetwork.random(4, 16, 3, parameterization="allen_zhu", random_state=0)
    assert net.trained == [False, True, True, False]
    fit = train_deep(net, X, y, learning_rate=1e-3, n_steps=5, optimizer="adam")
    assert fit.loss_curve[-1] < fit.loss_curve[0]
    np.testing.assert_array_equal(fit.network.weights[0], net.weights[0])
    np.testing.assert_array_equal(fit.network.weights[-1], net.weights[-1])
    assert not np.allclose(fit.network.weights[1], net.weights[1])
    # A ~ N(0, 2/m), W ~ N(0, 2/m), B ~ N(0, 1) as in doc/math.rst
    wide = DeepReLUNetwork.random(4, 400, 2, parameterization="allen_zhu", random_state=0)
    assert wide.weights[0].var() == pytest.approx(2 / 400, rel=0.1)
    assert wide.weights[1].var() == pytest.approx(2 / 400, rel=0.05)
    assert wide.weights[2].var() == pytest.approx(1.0, rel=0.2)


def test_standard_and_ntk_compute_the_same_function_from_the_same_seed(sphere):
    X, _ = sphere
    a = DeepReLUNetwork.random(4, 32, 2, parameterization="standard", random_state=3)
    b = DeepReLUNetwork.random(4, 32, 2, parameterization="ntk", random_state=3)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-10)
    # but the NTK parameterization's kernel does not grow with the width
    assert np.trace(empirical_ntk(a, X)) > 5 * np.trace(empirical_ntk(b, X))


def test_steps_to_fit_is_the_first_step_with_every_label_right():
    X, y = sphere_data(12, 4, task="classification", random_state=0)
    net = DeepReLUNetwork.random(4, 64, 2, random_state=0)
    fit = train_deep(net, X, y, learning_rate=1.0, n_steps=300)
    first = int(np.argmax(fit.accuracy_curve == 1.0))
    assert fit.accuracy_curve[first] == 1.0 and fit.steps_to_fit == first
    stopped = train_deep(net, X, y, learning_rate=1.0, n_steps=300, stop_at_fit=True)
    assert stopped.n_steps == first


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: DeepReLUNetwork.random(3, 8, 0), "depth"),
        (lambda: DeepReLUNetwork.random(3, 0, 2), "width"),
        (lambda: DeepReLUNetwork.random(3, 8, 2, parameterization="mup"), "parameterization must be one of"),
        (lambda: DeepReLUNetwork.random(3, 8, 1, parameterization="allen_zhu"), "depth must be >= 2"),
        (lambda: DeepReLUNetwork.random(3, 8, 2, parameterization="allen_zhu").predict(np.ones((2, 3))),
         "unit norm"),
        (lambda: DeepReLUNetwork.random(3, 8, 2).predict(np.ones((2, 4))), "features"),
        (lambda: empirical_ntk(DeepReLUNetwork.random(3, 8, 2), np.eye(3), method="svd"), "method"),
        (lambda: analytic_ntk(np.eye(3), depth=2, parameterization="standard"), "width is required"),
        (lambda: train_deep(DeepReLUNetwork.random(3, 8, 2), np.eye(3), np.ones(3), learning_rate=0.1,
                            n_steps=3, optimizer="lbfgs"), "optimizer"),
        (lambda: unit_norm(np.zeros((2, 3))), "zero row"),
        (lambda: Table([{"a": 1}]).column("b"), "columns"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- tangent kernels
@pytest.mark.parametrize("scheme", SCHEMES)
def test_layerwise_ntk_equals_the_explicit_jacobian_gram(sphere, scheme):
    X, _ = sphere
    net = DeepReLUNetwork.random(4, 12, 3, parameterization=scheme, random_state=2)
    J = jacobian(net, X)
    assert J.shape == (8, net.n_parameters())
    np.testing.assert_allclose(empirical_ntk(net, X, method="layerwise"), J @ J.T, rtol=1e-10, atol=1e-12)


def test_jacobian_matches_a_directional_finite_difference(sphere):
    X, _ = sphere
    net = DeepReLUNetwork.random(4, 10, 2, random_state=4)
    rng = np.random.default_rng(0)
    direction = [rng.standard_normal(p.shape) for p in net.parameters()]
    eps = 1e-6
    shift = lambda s: net.with_parameters([p + s * eps * v for p, v in zip(net.parameters(), direction)])  # noqa: E731
    numeric = (shift(1).predict(X) - shift(-1).predict(X)) / (2 * eps)
    flat = np.concatenate([v.ravel() for v in direction])
    np.testing.assert_allclose(jacobian(net, X) @ flat, numeric, rtol=1e-6, atol=1e-8)


def test_analytic_ntk_of_depth_one_is_the_two_layer_kernel_of_math_md(sphere):
    X, _ = sphere
    rng = np.random.default_rng(0)
    X = X * rng.uniform(0.5, 2.0, (X.shape[0], 1))  # not unit norm: the kernel scales with the norms
    np.testing.assert_allclose(analytic_ntk(X, depth=1), ntk_kernel(X) / X.shape[1], rtol=1e-7)


@pytest.mark.parametrize("scheme", ["ntk", "allen_zhu"])
def test_empirical_ntk_converges_to_the_analytic_one_as_width_grows(scheme):
    X, _ = sphere_data(6, 3, random_state=0)
    errors = []
    for width in (64, 512, 4096):
        Theta = analytic_ntk(X, depth=2, parameterization=scheme, width=width)
        errors.append(np.mean([
            relative_error(empirical_ntk(DeepReLUNetwork.random(3, width, 2, parameterization=scheme,
                                                                random_state=s), X), Theta)
            for s in range(3)
        ]))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.1
    # fluctuations of a mean over m units: the error falls roughly like m^(-1/2)
    assert -0.8 < loglog_slope([64, 512, 4096], errors) < -0.3


@pytest.mark.parametrize("scheme", SCHEMES)
def test_kernel_is_positive_semidefinite_before_and_after_training(sphere, scheme):
    X, y = sphere
    net = DeepReLUNetwork.random(4, 16, 3, parameterization=scheme, random_state=5)
    trained = train_deep(net, X, y, learning_rate=1e-3, n_steps=20, optimizer="adam").network
    for H in (empirical_ntk(net, X), empirical_ntk(trained, X)):
        np.testing.assert_allclose(H, H.T)
        vals = np.linalg.eigvalsh(H)
        assert vals[0] >= -1e-12 * vals[-1]
    # and the analytic kernel too
    assert np.linalg.eigvalsh(analytic_ntk(X, depth=3))[0] > 0


def test_gradient_descent_on_a_wide_network_follows_the_linearized_loss():
    X, y = sphere_data(8, 4, random_state=2)
    net = DeepReLUNetwork.random(4, 2048, 2, random_state=0)
    H = empirical_ntk(net, X)
    lo, hi = np.linalg.eigvalsh(H)[[0, -1]]
    eta, steps = 8 / hi, 40
    fit = train_deep(net, X, y, learning_rate=eta, n_steps=steps)
    linear = linearized_loss(H, net.predict(X) - y, eta, steps)
    loss = fit.loss_curve
    assert np.max(np.abs(loss - linear)) / loss[0] < 0.01
    # and it decays at least like exp(-2 eta lambda_min t / n), up to the same tolerance
    bound = loss[0] * (1 - eta * lo / 8) ** (2 * np.arange(steps + 1))
    assert np.all(loss <= bound * 1.05)
    assert loss[-1] < 0.2 * loss[0]


# ---------------------------------------------------------------- experiments and tables
def test_lazy_training_moves_wider_networks_less():
    table = lazy_training(widths=(16, 64, 256), seeds=1, n_samples=10, n_features=4, depth=2, n_steps=60)
    weight, kernel = table.column("weight_change"), table.column("kernel_change")
    assert np.all(np.diff(weight) < 0) and np.all(np.diff(kernel) < 0)
    assert table.meta["weight_slope"] < -0.4 and table.meta["kernel_slope"] < -0.3
    assert np.all(table.column("loss_final") < 0.1 * table.column("loss_initial"))


def test_sweep_in_two_processes_equals_the_serial_sweep():
    kwargs = dict(widths=(8, 16), seeds=2, n_samples=6, depth=2)
    serial = ntk_at_init(**kwargs)
    spread = ntk_at_init(**kwargs, n_jobs=2)  # joblib's default backend: worker processes
    assert [(r["width"], r["seed"]) for r in serial] == [(8, 0), (8, 1), (16, 0), (16, 1)]
    assert list(spread) == list(serial) and spread.meta == serial.meta


def test_no_trained_network_beats_the_certified_convex_optimum():
    table = convex_gap(widths=(2, 16), seeds=2, n_samples=12, max_epochs=1500)
    assert all(table.column("certified") == 1)
    lower = table.column("lower_bound")
    assert np.all(table.column("objective") >= lower * (1 - 1e-6))
    convex = table.column("convex_objective")
    assert np.all(convex >= lower) and np.all((convex - lower) / convex < 1e-3)
    # the wide networks reach it
    assert table.where(width=16).column("relative_gap").min() < 0.01


def test_best_learning_rate_transfers_in_ntk_but_not_in_standard_parameterization():
    grid = 10.0 ** np.arange(-3, 2.5, 0.5)
    table = learning_rate_transfer(widths=(16, 512), seeds=1, n_samples=10, n_features=4, depth=2,
                                   learning_rates=grid, n_steps=40)
    ntk, standard = table.meta["best"]["ntk"], table.meta["best"]["standard"]
    assert max(ntk) / min(ntk) <= 10**0.5 + 1e-9  # within one grid step
    assert standard[1] <= standard[0] / 10  # shrinks with the width
    assert sum(table.column("best") == 1) == 4


def test_sgd_fits_every_label_of_a_wide_allen_zhu_network():
    table = classification(widths=(256,), seeds=2, n_samples=12, n_features=4, depth=2, max_steps=500)
    assert np.all(table.column("final_accuracy") == 1.0)
    assert np.all(table.column("steps_to_fit") <= 500)


def test_table_csv_round_trip_and_loglog_slope(tmp_path):
    rows = [dict(width=w, seed=s, value=3.0 * w**-0.5) for w in (4, 16, 64) for s in (0, 1)]
    table = Table(rows, "demo")
    assert loglog_slope(*table.group("width", "value")) == pytest.approx(-0.5)
    table.to_csv(tmp_path / "t.csv")
    with open(tmp_path / "t.csv") as fh:
        back = list(csv.DictReader(fh))
    assert [float(r["value"]) for r in back] == pytest.approx(table.column("value"))
    assert list(back[0]) == ["width", "seed", "value"]


def test_cli_lab_writes_csv_and_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from convexnn.cli import main

    assert main(["lab", "ntk_at_init", "--widths", "16,64", "--seeds", "2", "--n-samples", "6",
                 "--depth", "2", "--output-dir", str(tmp_path)]) == 0
    with open(tmp_path / "ntk_at_init.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["width"]) for r in rows] == [16, 16, 64, 64]
    assert all(float(r["lambda_min"]) > 0 for r in rows)
    assert (tmp_path / "ntk_at_init.png").read_bytes()[:4] == b"\x89PNG"
    assert "$ convexnn lab ntk_at_init" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--depth does not apply"):
        main(["lab", "convex_gap", "--depth", "3", "--output-dir", str(tmp_path)])
