"""Pictures: ``losscli plot`` (each loss and its derivative against the residual or the
prediction) and ``grad --plot`` (the gradient distribution).  The plotted data are checked
against torch and the evaluation; the files are opened and checked as images."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import matplotlib.image
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscli import losses
from losscli.app import loss_curves
from losscli.core import evaluate
from losscli.errors import UsageError
from losscli.params import parse_params
from losscli.plot import gradient_plot_data
from tests.conftest import SAMPLE

FILES = (SAMPLE / "preds.csv", SAMPLE / "targets.csv")


def test_regression_curves_equal_torch_against_the_residual():
    c = loss_curves("mse,mae,huber(delta=0.5)", target=2.0, points=201)
    assert c.axis == "residual" and c.target == 2.0
    assert c.x[0] == -3.0 and c.x[-1] == 3.0 and len(c.x) == 201
    p = torch.tensor(c.x + 2.0, requires_grad=True)
    y = torch.full_like(p, 2.0)
    refs = {
        "mse": F.mse_loss(p, y, reduction="none"),
        "mae": F.l1_loss(p, y, reduction="none"),
        "huber(delta=0.5)": F.huber_loss(p, y, reduction="none", delta=0.5),
    }
    assert [curve.expr for curve in c.curves] == list(refs)
    for curve, ref in zip(c.curves, refs.values()):
        (grad,) = torch.autograd.grad(ref.sum(), p)
        np.testing.assert_allclose(curve.values, ref.detach().numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(curve.derivative, grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c.curves[2].derivative, np.clip(c.x, -0.5, 0.5), rtol=1e-12, atol=1e-15)


def test_classification_curves_against_the_prediction_and_probabilities():
    c = loss_curves("bce(from_logits=true),hinge", points=51)
    assert c.axis == "prediction" and c.target == 1.0
    x = torch.tensor(c.x, requires_grad=True)
    ref = F.binary_cross_entropy_with_logits(x, torch.ones_like(x), reduction="none")
    np.testing.assert_allclose(c.curves[0].values, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(c.curves[1].values, np.maximum(0, 1 - c.x), rtol=1e-12, atol=1e-15)
    probs = loss_curves("bce", points=11)  # probabilities: [-3, 3] is refused, (0, 1) is used
    assert probs.x[0] == pytest.approx(1e-3) and probs.x[-1] == pytest.approx(1 - 1e-3)
    np.testing.assert_allclose(probs.curves[0].values, -np.log(probs.x), rtol=1e-12)
    np.testing.assert_allclose(probs.curves[0].derivative, -1 / probs.x, rtol=1e-12)


@pytest.mark.parametrize(
    "text, kw, message",
    [
        ("cross-entropy", {}, "cross-entropy is not one"),
        ("0.5*mse+mae", {}, "not expressions"),
        ("mse", {"x_range": (2.0, 1.0)}, "LO < HI"),
        ("bce", {"x_range": (-3.0, 3.0)}, "give --range LO,HI or --target Y"),
    ],
)
def test_what_cannot_be_drawn_is_refused(text, kw, message):
    with pytest.raises(UsageError, match=message):
        loss_curves(text, **kw)


def test_plot_command_writes_images_a_person_can_open(cli, tmp_path):
    png, svg = tmp_path / "losses.png", tmp_path / "losses.svg"
    r = cli("plot", "mse,mae,huber,log-cosh", "-o", png)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.strip() == (
        f"losscli: drew mse, mae, huber, log-cosh against the residual p - y on [-3, 3] to {png}"
    )
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # not a blank canvas
    r = cli("plot", "bce(from_logits=true),focal", "-o", svg, "--range", "-6,6", "--target", "0")
    assert r.exit_code == 0, r.stderr
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text()
    assert "focal" in text and "target y = 0" in text
    bad = cli("plot", "mse", "-o", tmp_path / "x.txt")
    assert bad.exit_code == 2 and "-o writes .png, .svg, .pdf files" in bad.stderr
    bad = cli("plot", "mse", "-o", png, "--range", "1")
    assert bad.exit_code == 2 and "--range expects LO,HI" in bad.stderr


def test_grad_plot_data_are_the_evaluated_gradients(cli, tmp_path):
    spec = losses.get("huber")
    data = {"preds": np.loadtxt(FILES[0], skiprows=1), "targets": np.loadtxt(FILES[1], skiprows=1)}
    ev = evaluate(spec, data, parse_params(spec, []), backend="torch")
    d = gradient_plot_data(ev, data)["preds"]
    np.testing.assert_allclose(d["abs_grad"], np.abs(ev.gradients["preds"]) * ev.scale, rtol=1e-15)
    np.testing.assert_allclose(d["x"], data["preds"] - data["targets"])
    assert d["x_label"] == "residual p - y" and d["abs_grad"].max() == pytest.approx(1.0)  # huber caps at delta
    png = tmp_path / "g.png"
    r = cli("grad", "huber", *FILES, "--plot", png, "-f", "plain")
    assert r.exit_code == 0, r.stderr
    assert "drew the gradient distribution of huber" in r.stderr
    assert matplotlib.image.imread(png).shape[0] > 200
    ce = evaluate(
        losses.get("cross-entropy"),
        {"preds": np.array([[2.0, 0.5], [0.1, 0.3]]), "targets": np.array([0.0, 1.0])},
        parse_params(losses.get("cross-entropy"), []),
        backend="torch",
    )
    assert gradient_plot_data(ce, {"preds": np.array([[2.0, 0.5], [0.1, 0.3]])})["preds"]["x_label"] == "preds value"
