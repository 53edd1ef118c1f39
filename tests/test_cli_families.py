"""The CLI for named multi-input losses, images, expressions, regularisers, sample weights
and compare: values against independent computations, exit codes, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_msssim import ssim

from losscli.io.images import read_image
from tests.conftest import SAMPLE
from tests.test_cli import one_error_line


def value(cli, *args) -> dict:
    r = cli(*args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


# ------------------------------------------------------------------ named inputs


def triplet_files():
    return [SAMPLE / f"triplet_{n}.csv" for n in ("anchor", "positive", "negative")]


def test_triplet_by_name_equals_positional_and_torch(cli):
    a, p, n = triplet_files()
    by_name = value(
        cli, "grad", "triplet", "--input", f"anchor={a}", "--input", f"positive={p}", "--input", f"negative={n}"
    )
    positional = value(cli, "compute", "triplet", a, p, n)
    arrays = [torch.tensor(np.loadtxt(f, delimiter=",", skiprows=1), requires_grad=True) for f in (a, p, n)]
    ref = F.triplet_margin_loss(*arrays)
    ref.backward()
    assert by_name["value"] == pytest.approx(ref.item(), rel=1e-12)
    assert positional["value"] == pytest.approx(ref.item(), rel=1e-12)
    for name, t in zip(("anchor", "positive", "negative"), arrays):
        np.testing.assert_allclose(by_name["gradients"][name], t.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_missing_named_input_is_one_line(cli):
    a, p, _ = triplet_files()
    r = cli("compute", "triplet", "--input", f"anchor={a}", "--input", f"positive={p}")
    assert r.exit_code == 2 and "negative" in one_error_line(r)


def test_embeddings_of_different_widths(cli, write):
    a, p, _ = triplet_files()
    narrow = write("n.csv", "a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n13,14\n15,16\n")
    r = cli("compute", "triplet", a, p, narrow)
    assert r.exit_code == 2 and "same width" in one_error_line(r)


def test_npz_carries_every_input(cli, tmp_path):
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    label = np.array([1, 0, 1, 1, 0, 0.0])
    path = tmp_path / "pairs.npz"
    np.savez(path, x1=x1, x2=x2, label=label)
    got = value(cli, "compute", "contrastive", path, "-p", "margin=2")["value"]
    d = np.linalg.norm(x1 - x2, axis=1)
    ref = np.mean(label * d**2 / 2 + (1 - label) * np.maximum(0, 2 - d) ** 2 / 2)
    assert got == pytest.approx(ref, rel=1e-12)


def test_contrastive_labels_must_be_zero_or_one(cli, tmp_path):
    path = tmp_path / "pairs.npz"
    np.savez(path, x1=np.zeros((2, 2)), x2=np.ones((2, 2)), label=np.array([1.0, 2.0]))
    r = cli("compute", "contrastive", path)
    assert r.exit_code == 2 and "label" in one_error_line(r)


def test_ctc_batch_from_one_json_object(cli):
    obj = json.loads((SAMPLE / "ctc_batch.json").read_text())
    got = value(cli, "grad", "ctc", SAMPLE / "ctc_batch.json")
    lp = torch.tensor(obj["log_probs"], dtype=torch.float64)
    ref = F.ctc_loss(
        lp,
        torch.tensor(obj["targets"]).long(),
        torch.tensor(obj["input_lengths"]).long(),
        torch.tensor(obj["target_lengths"]).long(),
    )
    assert got["value"] == pytest.approx(ref.item(), rel=1e-12)
    assert set(got["gradients"]) == {"log_probs"}


def test_ctc_target_longer_than_input(cli, write):
    lp = write("lp.json", {"log_probs": np.log(np.full((2, 4), 0.25)).tolist(), "targets": [1, 2, 3]})
    r = cli("compute", "ctc", lp)
    assert r.exit_code == 2 and "longer" in one_error_line(r)


# ------------------------------------------------------------------ images


def test_ssim_from_png_matches_pytorch_msssim(cli):
    x = torch.tensor(read_image(str(SAMPLE / "img_distorted.png")))[None]
    y = torch.tensor(read_image(str(SAMPLE / "img_reference.png")))[None]
    got = value(cli, "compute", "ssim", SAMPLE / "img_distorted.png", SAMPLE / "img_reference.png")
    # pytorch_msssim builds its Gaussian window in float32; give it the float64 one
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    win = (g / g.sum()).view(1, 1, 1, 11).repeat(x.shape[1], 1, 1, 1)
    ref = ssim(x, y, data_range=1.0, size_average=True, win=win).item()
    assert got["extras"]["ssim"] == pytest.approx(ref, rel=1e-12)
    assert got["extras"]["ssim"] == pytest.approx(ssim(x.float(), y.float(), data_range=1.0).item(), abs=1e-5)
    assert got["value"] == pytest.approx(1 - got["extras"]["ssim"], rel=1e-12)


def test_images_of_different_sizes(cli, tmp_path):
    from PIL import Image

    Image.new("L", (16, 16), 100).save(tmp_path / "a.png")
    Image.new("L", (16, 20), 100).save(tmp_path / "b.png")
    r = cli("compute", "ssim", tmp_path / "a.png", tmp_path / "b.png")
    assert r.exit_code == 2 and "shape" in one_error_line(r)


def test_perceptual_needs_a_feature_network_and_refuses_torchscript_unless_trusted(cli, write, tmp_path):
    images = (SAMPLE / "img_distorted.png", SAMPLE / "img_reference.png")
    r = cli("compute", "perceptual", *images)
    assert r.exit_code == 2 and "torch.export" in one_error_line(r)
    bogus = write("net.pt2", "not a network")
    r = cli("compute", "perceptual", *images, "-p", f"features={bogus}")
    assert r.exit_code == 2 and "not a torch.export program" in one_error_line(r)
    from tests.cases_image import make_feature_net, save_feature_net

    script = save_feature_net(str(tmp_path / "net.pt"), make_feature_net(channels=3))
    r = cli("compute", "perceptual", *images, "-p", f"features={script}")
    assert r.exit_code == 2 and "TorchScript" in one_error_line(r) and "--trust-model" in one_error_line(r)
    trusted = [cli("compute", "perceptual", *images, "-p", f"features={script}", *extra, "--json") for extra in
               (["-p", "trust_model=true"], ["--trust-model"])]  # fmt: skip
    assert [t.exit_code for t in trusted] == [0, 0], trusted[1].stderr
    assert json.loads(trusted[0].stdout)["value"] == json.loads(trusted[1].stdout)["value"]


# ------------------------------------------------------------------ expressions


def test_weighted_expression_equals_weighted_terms(cli):
    files = [SAMPLE / "binary_probs.csv", SAMPLE / "binary_labels.csv"]
    total = value(cli, "grad", "0.7*bce + 0.3*dice", *files)
    bce = value(cli, "grad", "bce", *files)
    dice = value(cli, "grad", "dice", *files)
    assert total["value"] == pytest.approx(0.7 * bce["value"] + 0.3 * dice["value"], rel=1e-14)
    np.testing.assert_allclose(
        total["gradients"]["preds"],
        0.7 * np.array(bce["gradients"]["preds"]) + 0.3 * np.array(dice["gradients"]["preds"]),
        rtol=1e-12,
    )
    assert [t["expr"] for t in total["terms"]] == ["bce", "dice"]
    assert sum(s["fraction"] for s in total["shares"]) == pytest.approx(1.0)
    assert total["health"]["status"] == "ok"


def test_multi_task_bindings_from_one_json(cli, write):
    rng = np.random.default_rng(1)
    data = {
        "cls_logits": rng.normal(size=(5, 3)).tolist(),
        "cls_labels": [0, 2, 1, 1, 0],
        "box_pred": rng.normal(size=5).tolist(),
        "box_true": rng.normal(size=5).tolist(),
    }
    f = write("batch.json", data)
    got = value(
        cli, "compute", "ce(preds=cls_logits, targets=cls_labels) + 0.5*mse(preds=box_pred, targets=box_true)", f
    )
    ce = F.cross_entropy(torch.tensor(data["cls_logits"]), torch.tensor(data["cls_labels"])).item()
    mse = float(np.mean((np.array(data["box_pred"]) - np.array(data["box_true"])) ** 2))
    assert got["value"] == pytest.approx(ce + 0.5 * mse, rel=1e-6)


def test_regulariser_and_its_gradient(cli):
    w = np.loadtxt(SAMPLE / "weights.csv", delimiter=",")
    got = value(
        cli,
        "grad",
        "mse + 0.01*l2",
        SAMPLE / "preds.csv",
        SAMPLE / "targets.csv",
        "--input",
        f"weights={SAMPLE / 'weights.csv'}",
    )
    mse = value(cli, "compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv")["value"]
    assert got["value"] == pytest.approx(mse + 0.01 * np.sum(w**2), rel=1e-14)
    np.testing.assert_allclose(got["gradients"]["weights"], 0.02 * w, rtol=1e-14)


def test_l2_without_weights_is_one_line(cli):
    r = cli("compute", "mse + 0.01*l2", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert r.exit_code == 2 and "weights" in one_error_line(r)


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("0.5*", "character"),
        ("mse * mae", "product of two losses"),
        ("msee + mae", "did you mean"),
        ("mse.__class__", "character"),
        ("(" * 10_000 + "mse" + ")" * 10_000, "characters"),
    ],
)
def test_bad_expressions(cli, expr, expected):
    r = cli("compute", expr, SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert r.exit_code == 2
    assert expected in one_error_line(r)


def test_code_in_an_expression_is_never_run(cli, tmp_path):
    marker = tmp_path / "pwned"
    r = cli("compute", f"__import__('os').system('touch {marker}')", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert r.exit_code == 2 and not marker.exists()
    one_error_line(r)


# ------------------------------------------------------------------ sample weights


def test_sample_weights_file(cli):
    p = np.loadtxt(SAMPLE / "preds.csv", skiprows=1)
    t = np.loadtxt(SAMPLE / "targets.csv", skiprows=1)
    s = np.loadtxt(SAMPLE / "sample_weights.csv", skiprows=1)
    got = value(
        cli,
        "grad",
        "mse",
        SAMPLE / "preds.csv",
        SAMPLE / "targets.csv",
        "--sample-weights",
        SAMPLE / "sample_weights.csv",
    )
    assert got["value"] == pytest.approx(np.sum(s * (p - t) ** 2) / np.sum(s), rel=1e-14)
    np.testing.assert_allclose(got["gradients"]["preds"], 2 * s * (p - t) / np.sum(s), rtol=1e-13)


def test_sample_weights_of_the_wrong_length(cli, write):
    r = cli(
        "compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--sample-weights", write("w.csv", np.ones(7))
    )
    assert r.exit_code == 2 and "expected 40 sample weights" in one_error_line(r)


# ------------------------------------------------------------------ compare


def test_compare_json_is_a_list_of_compute_objects(cli):
    r = cli("compare", "mse,mae,huber(delta=0.5)", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--json")
    rows = json.loads(r.stdout)
    assert [row["loss"] for row in rows] == ["mse", "mae", "huber"]
    single = value(cli, "compute", "huber", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "-p", "delta=0.5")
    assert rows[2].pop("expr") == "huber(delta=0.5)"
    assert rows[2] == single


def test_compare_grad_shows_outliers_dominating_mse(cli, write):
    rng = np.random.default_rng(2)
    y = rng.normal(size=500)
    r = rng.normal(0, 0.3, size=500)
    r[:5] = 40.0
    p, t = write("p.csv", y + r), write("t.csv", y)
    rows = json.loads(cli("compare", "mse,mae,huber", p, t, "--grad", "--json").stdout)
    share = {row["loss"]: row["outlier_share"] for row in rows}
    assert share["mse"] > 0.5 and share["mae"] == pytest.approx(0.01) and share["huber"] < 0.1
    table = cli("compare", "mse,mae,huber", p, t, "--grad")
    assert table.exit_code == 0 and "outlier share" in table.stdout


def test_compare_rows_are_labelled_as_given_and_classification_has_no_outlier_share(cli, write):
    csv = cli("compare", "huber(delta=0.5),huber(delta=2)", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "-f", "csv")
    assert [line.split(",")[0] for line in csv.stdout.splitlines()] == ["loss", "huber(delta=0.5)", "huber(delta=2)"]
    rows = json.loads(
        cli(
            "compare",
            "bce(from_logits=true),focal",
            SAMPLE / "binary_logits.csv",
            SAMPLE / "binary_labels.csv",
            "--grad",
            "--json",
        ).stdout
    )
    assert [r["outlier_share"] for r in rows] == [None, None]
    data = write("mt.json", {"cls_logits": [[1.0, 2.0], [0.5, -1.0]], "cls_labels": [1, 0]})
    r = cli("compare", "ce(preds=cls_logits, targets=cls_labels)", data, "--grad", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)[0]["health"]["status"] == "ok"


def test_compare_unknown_loss(cli):
    r = cli("compare", "mse,msee", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert r.exit_code == 2 and "did you mean" in one_error_line(r)
