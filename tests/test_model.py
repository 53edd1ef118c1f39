"""grad/compute --model: a network's parameter gradients against eager torch, the safe loader
against crafted archives, and the verdicts on the bundled example networks."""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import ROOT

MODELS_DIR = ROOT / "losscli" / "data" / "models"

_spec = importlib.util.spec_from_file_location("build_example_models", ROOT / "scripts" / "build_example_models.py")
assert _spec is not None and _spec.loader is not None
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (path of the exported program, the eager module with the same weights)."""
    out = tmp_path_factory.mktemp("models")
    made = {}
    for name in ("sigmoid_mlp", "recommender", "nan_layer"):
        module = build.build(name, seed=1)
        path = out / f"{name}.pt2"
        build.export(module, build.MODELS[name][1], path)
        made[name] = (path, module)
    return made


def _csv(path: Path, values: np.ndarray) -> Path:
    build.write_csv(path, values)
    return path


def _read(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2 if "," in path.read_text().splitlines()[0] else 1)


def _json(result) -> dict:
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_single_application_matches_eager_torch(cli, exported, tmp_path):
    path, module = exported["sigmoid_mlp"]
    rng = np.random.default_rng(3)
    x, y = _csv(tmp_path / "x.csv", rng.normal(size=(16, build.D))), _csv(tmp_path / "y.csv", rng.normal(size=16))
    out = tmp_path / "g.npz"
    got = _json(cli("grad", "mse", "--model", path, x, y, "--json", "--out", out))
    module.zero_grad()
    xt = torch.tensor(_read(x), dtype=torch.float32)
    yt = torch.tensor(_read(y), dtype=torch.float32)
    loss = torch.nn.functional.mse_loss(module(xt), yt)
    loss.backward()
    assert got["value"] == pytest.approx(loss.item(), rel=1e-6)
    saved = np.load(out)
    names = [n for n, _ in module.named_parameters()]
    assert [p["name"] for p in got["parameters"]] == names == list(saved.keys())
    for (name, p), entry in zip(module.named_parameters(), got["parameters"]):
        assert p.grad is not None
        np.testing.assert_allclose(saved[name], p.grad.numpy(), rtol=1e-5, atol=1e-12)
        assert entry["shape"] == list(p.shape)
        assert entry["grad_norm"] == pytest.approx(float(p.grad.double().norm()), rel=1e-5)
        assert entry["param_norm"] == pytest.approx(float(p.detach().double().norm()), rel=1e-6)
    clipped = torch.nn.utils.clip_grad_norm_(module.parameters(), max_norm=1e30)
    assert got["global_norm"] == pytest.approx(float(clipped), rel=1e-6)


def test_feeds_accumulate_as_in_eager_torch(cli, exported, tmp_path):
    path, module = exported["recommender"]
    rng = np.random.default_rng(4)
    files = {n: _csv(tmp_path / f"{n}.csv", rng.normal(size=(12, build.D))) for n in ("users", "liked", "unliked")}
    out = tmp_path / "g.npz"
    got = _json(
        cli(
            "grad", "bpr", "--model", path, "--feed", f"pos={files['users']},{files['liked']}",
            "--feed", f"neg={files['users']},{files['unliked']}", "--json", "--out", out,
        )
    )  # fmt: skip
    module.zero_grad()
    u, li, ul = (torch.tensor(_read(files[n]), dtype=torch.float32) for n in ("users", "liked", "unliked"))
    loss = -torch.nn.functional.logsigmoid(module(u, li) - module(u, ul)).mean()
    loss.backward()
    assert got["value"] == pytest.approx(loss.item(), rel=1e-5)
    saved = np.load(out)
    for name, p in module.named_parameters():
        assert p.grad is not None
        np.testing.assert_allclose(saved[name], p.grad.numpy(), rtol=1e-4, atol=1e-7)
    assert [a["feeds"] for a in got["model"]["applications"]] == ["pos", "neg"]


def test_compute_model_is_the_eager_loss_without_gradients(cli, exported, tmp_path):
    path, module = exported["sigmoid_mlp"]
    rng = np.random.default_rng(5)
    x, y = _csv(tmp_path / "x.csv", rng.normal(size=(10, build.D))), _csv(tmp_path / "y.csv", rng.normal(size=10))
    got = _json(cli("compute", "mse", "--model", path, x, y, "--json"))
    with torch.no_grad():
        want = torch.nn.functional.mse_loss(
            module(torch.tensor(_read(x), dtype=torch.float32)), torch.tensor(_read(y), dtype=torch.float32)
        )
    assert got["value"] == pytest.approx(want.item(), rel=1e-5)


EXAMPLES = {
    "sigmoid_mlp": (["mse", "features.csv", "targets.csv"], "vanishing"),
    "exploding_mlp": (["mse", "features.csv", "targets.csv"], "exploding"),
    "dead_relu": (["bce", "features.csv", "labels.csv", "-p", "from_logits=true"], "dead"),
    "nan_layer": (["mse", "features.csv", "targets.csv"], "nonfinite"),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_bundled_example_verdicts_do_not_depend_on_the_reduction(cli, name):
    args, status = EXAMPLES[name]
    loss, *rest = args
    files = [str(MODELS_DIR / a) if a.endswith(".csv") else a for a in rest]
    runs = [
        _json(cli("grad", loss, "--model", MODELS_DIR / f"{name}.pt2", *files, "-r", r, "--json"))
        for r in ("mean", "sum")
    ]
    for got in runs:
        assert got["health"]["status"] == status
    mean, total = runs
    assert [(layer["name"], layer["status"]) for layer in mean["layers"]] == [
        (layer["name"], layer["status"]) for layer in total["layers"]
    ]
    for a, b in zip(mean["layers"], total["layers"]):
        if a["gain"] is not None:
            assert a["gain"] == pytest.approx(b["gain"], rel=1e-4)


def test_recommender_example_is_healthy_and_strict_passes(cli):
    d = MODELS_DIR
    result = cli(
        "grad", "bpr", "--model", d / "recommender.pt2", "--feed", f"pos={d / 'users.csv'},{d / 'liked.csv'}",
        "--feed", f"neg={d / 'users.csv'},{d / 'unliked.csv'}", "--strict", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["health"]["status"] == "ok"


def test_vanishing_names_the_early_layers_and_strict_fails(cli):
    result = cli(
        "grad", "mse", "--model", MODELS_DIR / "sigmoid_mlp.pt2", MODELS_DIR / "features.csv",
        MODELS_DIR / "targets.csv", "--fail-on", "vanishing", "--json",
    )  # fmt: skip
    assert result.exit_code == 1
    got = json.loads(result.stdout)
    assert got["health"]["layers"]["vanishing"][:3] == ["layers.0", "layers.1", "layers.2"]
    assert "head" not in got["health"]["layers"]["vanishing"]
    assert "check failed: gradient health: vanishing" in result.stderr


def test_dead_units_and_nonfinite_origin(cli, exported, tmp_path):
    got = _json(
        cli(
            "grad", "bce", "--model", MODELS_DIR / "dead_relu.pt2", MODELS_DIR / "features.csv",
            MODELS_DIR / "labels.csv", "-p", "from_logits=true", "--json",
        )
    )  # fmt: skip
    assert got["health"]["dead_units"] == [
        {"layer": "relu", "node": "relu", "op": "aten.relu.default", "units": 16, "dead": 12, "fraction": 0.75}
    ]
    assert got["health"]["nonfinite_origin"] is None
    path, _ = exported["nan_layer"]
    rng = np.random.default_rng(6)
    x, y = _csv(tmp_path / "x.csv", rng.normal(size=(32, build.D))), _csv(tmp_path / "y.csv", rng.normal(size=32))
    got = _json(cli("grad", "mse", "--model", path, x, y, "--json"))
    assert got["health"]["nonfinite_origin"] == {
        "layer": "norm",
        "op": "aten.sqrt.default",
        "node": "sqrt",
        "phase": "forward",
    }
    assert got["health"]["status"] == "nonfinite"
    assert got["value"] is None and got["global_norm"] is None


# ----------------------------------------------------------------------------- errors


def test_bad_model_files_and_bindings_are_one_line_errors(cli, exported, tmp_path):
    path, _ = exported["sigmoid_mlp"]
    x = _csv(tmp_path / "x.csv", np.ones((4, 3)))
    y = _csv(tmp_path / "y.csv", np.ones(4))
    text = tmp_path / "model.pt2"
    text.write_text("not a model")
    cases = [
        (
            ("grad", "mse", "--model", text, x, y),
            f"{text}: not a torch.export program (.pt2, written by torch.export.save): the file is not a zip archive",
        ),
        (("grad", "mse", "--model", path, x, y), f"{x}: model input x expects shape s"),
        (("grad", "mse", "--model", path), "grad --model needs the files that feed the model"),
        (("grad", "mse", "--model", path, "--input", f"targets={y}"), "the model takes 1 input(s) (x: s"),
        (("grad", "mse", "--model", path, x), None),
        (("grad", "mse", "--model", tmp_path / "missing.pt2", x, y), "no such model file"),
        (("grad", "mse", "--feed", f"preds={x}", y), "--feed needs --model FILE"),
        (
            ("grad", "mse", "--model", path, "--feed", f"targets={x}", y),
            "targets is not an input the loss differentiates",
        ),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("losscli: error: "), result.stderr
        if message:
            assert message in lines[0], lines[0]


# ----------------------------------------------------------------------------- crafted archives


class _Touch:
    """Unpickling this creates ``path``: the proof that a loader ran code from the file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').close()",))


def _rewrite(src: Path, dst: Path, change) -> Path:
    """Copy the archive, letting ``change(inner_name, bytes) -> bytes | None`` edit each entry
    (None drops it), and add the entries ``change.extra`` names."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        top = zin.namelist()[0].split("/", 1)[0]
        for info in zin.infolist():
            inner = info.filename.split("/", 1)[1]
            data = change(inner, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
        for inner, data in getattr(change, "extra", {}).items():
            zout.writestr(f"{top}/{inner}", data)
    return dst


def _edit_json(inner_wanted: str, edit):
    def change(inner: str, data: bytes) -> bytes:
        if inner != inner_wanted:
            return data
        obj = json.loads(data)
        edit(obj)
        return json.dumps(obj).encode()

    return change


def _pickled_weight(flag: Path):
    def change(inner: str, data: bytes) -> bytes:
        if inner == "data/weights/model_weights_config.json":
            obj = json.loads(data)
            first = next(iter(obj["config"]))
            obj["config"][first]["use_pickle"] = True
            return json.dumps(obj).encode()
        if inner == "data/weights/weight_0":
            return pickle.dumps(_Touch(flag))
        return data

    return change


def _pickled_sample_inputs(flag: Path):
    buffer = io.BytesIO()
    torch.save(_Touch(flag), buffer)
    return lambda inner, data: buffer.getvalue() if inner.startswith("data/sample_inputs/") else data


def _sympy_code(flag: Path):
    code = f"__import__('builtins').exec(\"open({str(flag)!r}, 'w').close()\")"

    def edit(obj):
        def walk(v):
            if isinstance(v, dict):
                for k in v:
                    if k == "expr_str":
                        v[k] = code
                    else:
                        walk(v[k])
            elif isinstance(v, list):
                for item in v:
                    walk(item)

        walk(obj)

    return _edit_json("models/model.json", edit)


def _guard_code(flag: Path):
    return _edit_json(
        "models/model.json", lambda obj: obj.__setitem__("guards_code", [f"open({str(flag)!r}, 'w') is None"])
    )


def _foreign_target(flag: Path):
    def edit(obj):
        obj["graph_module"]["graph"]["nodes"][0]["target"] = "torch.hub.load"

    return _edit_json("models/model.json", edit)


def _shared_library(flag: Path):
    def change(inner: str, data: bytes) -> bytes:
        return data

    change.extra = {"data/aotinductor/model/model.so": b"\x7fELF"}  # type: ignore[attr-defined]
    return change


CRAFTED = {
    "pickled-weight": (_pickled_weight, "is stored as a pickle (use_pickle)"),
    "pickled-sample-inputs": (_pickled_sample_inputs, "does not load with the weights-only unpickler"),
    "code-in-shape-expression": (_sympy_code, "is not arithmetic on shape symbols"),
    "code-in-guard": (_guard_code, "is not a comparison of input shapes"),
    "non-torch-operator": (_foreign_target, "the graph calls 'torch.hub.load'"),
    "shared-library": (_shared_library, "which a torch.export program does not"),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_crafted_archives_are_refused_and_nothing_runs(cli, exported, tmp_path, case):
    path, _ = exported["sigmoid_mlp"]
    flag = tmp_path / "ran.txt"
    make, message = CRAFTED[case]
    bad = _rewrite(path, tmp_path / "bad.pt2", make(flag))
    x = _csv(tmp_path / "x.csv", np.ones((4, build.D)))
    y = _csv(tmp_path / "y.csv", np.ones(4))
    for command in ("grad", "compute"):
        result = cli(command, "mse", "--model", bad, x, y)
        assert result.exit_code == 2, result.stdout
        assert message in result.stderr and "--trust-model" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not flag.exists()


def test_the_crafted_pickle_would_really_run(tmp_path):
    """The proof payload is live: unpickling it in full creates the file (so the test above can fail)."""
    flag = tmp_path / "ran.txt"
    pickle.loads(pickle.dumps(_Touch(flag)))
    assert flag.exists()


def test_torchscript_needs_trust_model(cli, exported, tmp_path):
    _, module = exported["sigmoid_mlp"]
    scripted = tmp_path / "m.pt"
    torch.jit.save(torch.jit.script(module), str(scripted))
    rng = np.random.default_rng(7)
    x, y = _csv(tmp_path / "x.csv", rng.normal(size=(8, build.D))), _csv(tmp_path / "y.csv", rng.normal(size=8))
    refused = cli("grad", "mse", "--model", scripted, x, y)
    assert refused.exit_code == 2 and "TorchScript" in refused.stderr and "--trust-model" in refused.stderr
    got = _json(cli("grad", "mse", "--model", scripted, x, y, "--trust-model", "--json"))
    module.zero_grad()
    loss = torch.nn.functional.mse_loss(
        module(torch.tensor(_read(x), dtype=torch.float32)), torch.tensor(_read(y), dtype=torch.float32)
    )
    loss.backward()
    assert got["model"]["kind"] == "torchscript" and got["model"]["trusted"] is True
    assert got["value"] == pytest.approx(loss.item(), rel=1e-6)
    head = next(p for p in got["parameters"] if p["name"] == "head.weight")
    assert head["grad_norm"] == pytest.approx(float(module.head.weight.grad.double().norm()), rel=1e-5)


# ----------------------------------------------------------------------------- --explain with a model


def _numbers(body: str, label: str) -> float:
    line = next(line for line in body.splitlines() if line.strip().startswith(label))
    return float(line.split(label, 1)[1].split()[0])


@pytest.mark.parametrize("name", ["sigmoid_mlp", "recommender"])
def test_explain_works_one_weight_by_hand_and_it_matches(cli, name):
    result = cli("grad", "--model", name, "--explain", "--json")
    assert result.exit_code == 0, result.stderr
    sections = json.loads(result.stdout)["sections"]
    assert [s["title"].split(" ", 1)[0] for s in sections] == ["1.", "2.", "3.", "4.", "5."]
    by_hand = sections[2]["body"]
    grad = _numbers(by_hand, ".grad:")
    assert _numbers(by_hand, "by hand:") == pytest.approx(grad, rel=1e-5)
    assert _numbers(by_hand, "finite difference:") == pytest.approx(grad, rel=1e-4)
    accumulate = sections[3]["body"]
    assert "(2x: backward() adds into .grad)" in accumulate
    assert "after zero_grad(): None" in accumulate
    step = sections[4]["body"]
    sgd_by_formula = float(step.split(" = ")[2].split(" (torch.optim.SGD: ")[0])
    sgd_torch = float(step.split("(torch.optim.SGD: ")[1].split(")")[0])
    assert sgd_by_formula == pytest.approx(sgd_torch, rel=1e-6)


def test_explain_flow_shows_the_sigmoid_bound_in_english_and_zh_tw(cli):
    en = json.loads(cli("grad", "--model", "sigmoid_mlp", "--explain", "--json").stdout)["sections"][1]["body"]
    assert "σ'(z) = σ(z)(1 - σ(z)) ≤ 1/4" in en and en.index("head") < en.index("layers.0")
    zh = json.loads(cli("grad", "--model", "sigmoid_mlp", "--explain", "--lang", "zh-TW", "--json").stdout)
    assert zh["sections"][1]["title"] == "2. 反向穿過各層（從輸出端開始）"
    assert "每層按固定倍數縮小就是梯度消失" in zh["sections"][1]["body"]


def test_plot_draws_the_gradient_flow(cli, tmp_path):
    png, svg = tmp_path / "flow.png", tmp_path / "flow.svg"
    for path in (png, svg):
        result = cli("grad", "--model", "sigmoid_mlp", "--plot", path, "--format", "plain")
        assert result.exit_code == 0, result.stderr
        assert "drew the gradient flow of 9 layers" in result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "layers.0" in text and "vanishing" in text
    bad = cli("grad", "--model", "sigmoid_mlp", "--plot", tmp_path / "flow.txt")
    assert bad.exit_code == 2 and "--plot writes .png, .svg, .pdf files" in bad.stderr


class _SqrtAtZero(torch.nn.Module):
    """Finite forward, NaN backward: |z| written as sqrt(z²) has derivative inf · 0 = NaN at z = 0
    (unit 0 has bias 0, so a row of zeros makes z = 0 there)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(build.D, 8)
        self.head = torch.nn.Linear(8, 1)
        with torch.no_grad():
            self.hidden.bias[0] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.sqrt(self.hidden(x) ** 2)).squeeze(-1)


def test_nonfinite_origin_in_backward(cli, tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "sqrt.pt2"
    build.export(_SqrtAtZero(), 1, path)
    rng = np.random.default_rng(8)
    features = rng.normal(size=(16, build.D))
    features[0] = 0.0
    x, y = _csv(tmp_path / "x.csv", features), _csv(tmp_path / "y.csv", rng.normal(size=16))
    got = _json(cli("grad", "mse", "--model", path, x, y, "--json"))
    assert got["value"] is not None  # the forward pass is finite
    assert got["health"]["nonfinite_origin"] == {
        "layer": "(root)", "op": "aten.pow.Tensor_Scalar", "node": "pow_1", "phase": "backward",
        "via": ["aten.sqrt.default"],
    }  # fmt: skip
    assert got["health"]["status"] == "nonfinite"
    hidden = next(layer for layer in got["layers"] if layer["name"] == "hidden")
    assert hidden["status"] == "nonfinite" and hidden["grad_norm"] is None
