"""Cases for issue 4's image losses, merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).
Images are 12-14 px (SSIM needs >= 11) so the finite-difference test stays fast.

``perceptual`` needs a TorchScript feature network given as a path in its params, which are
fixed at import: the path below is per process (xdist workers each get their own), and the
factory writes a small smooth (tanh/softplus) scripted net there on first use.  torch is
imported only then, never when this module is imported.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


# ----------------------------------------------------------------------------- region


def _probs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.02, 0.98, size=shape)


def _mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    m = (rng.uniform(size=shape) < 0.4).astype(float)
    m.reshape(-1)[0] = 1.0  # never an all-empty mask
    return m


def mask_2d(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": _probs(rng, (9, 10)), "targets": _mask(rng, (9, 10))}


def mask_flat(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": _probs(rng, (30,)), "targets": _mask(rng, (30,))}


def classes_3d(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = _mask(rng, (3, 6, 7))
    t[:, 0, 0] = 1.0  # every class present
    return {"preds": _probs(rng, (3, 6, 7)), "targets": t}


def classes_4d(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = _mask(rng, (2, 3, 5, 6))
    t[0, :, 0, 0] = 1.0
    return {"preds": _probs(rng, (2, 3, 5, 6)), "targets": t}


def logits_4d(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = classes_4d(rng)
    return {"preds": rng.normal(0, 2, size=d["preds"].shape), "targets": d["targets"]}


def soft_targets(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": _probs(rng, (8, 9)), "targets": rng.uniform(0, 1, size=(8, 9))}


REGION_CASES: list[tuple[str, list[str], Factory]] = [
    ("mask", [], mask_2d),
    ("flat", [], mask_flat),
    ("chw", [], classes_3d),
    ("nchw", [], classes_4d),
    ("logits", ["from_logits=true"], logits_4d),
    ("smooth0", ["smooth=0"], classes_4d),
    ("soft", ["smooth=0.5"], soft_targets),
]


# ----------------------------------------------------------------------------- SSIM


def _smooth_image(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Gradients plus a blob plus noise, in [0, 1]."""
    h, w = shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.3 + 0.4 * xx * yy + 0.2 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.4) ** 2) / 0.05)
    img = base + rng.normal(0, 0.08, size=shape)
    return np.clip(img, 0.0, 1.0)


def _pair(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> dict[str, np.ndarray]:
    t = _smooth_image(rng, shape)
    p = np.clip(t + rng.normal(0, 0.1, size=shape), 0.0, 1.0)
    return {"preds": p * scale, "targets": t * scale}


def ssim_gray(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _pair(rng, (13, 14))


def ssim_chw(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _pair(rng, (3, 12, 12))


def ssim_nchw(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _pair(rng, (2, 2, 12, 13))


def ssim_255(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _pair(rng, (12, 12), scale=255.0)


# ----------------------------------------------------------------------------- perceptual

_NET_DIR = os.path.join(tempfile.gettempdir(), f"losscli-test-features-{os.getpid()}")
FEATURES_NET = os.path.join(_NET_DIR, "net_list.pt2")
FEATURES_NET_SINGLE = os.path.join(_NET_DIR, "net_single.pt2")
FEATURES_NET_SCRIPT = os.path.join(_NET_DIR, "net_list_script.pt")


@atexit.register
def _cleanup() -> None:
    shutil.rmtree(_NET_DIR, ignore_errors=True)


def make_feature_net(channels: int = 2, multi: bool = True, seed: int = 0):
    """A tiny smooth conv net as a torch.nn.Module (weights from a fixed numpy seed):
    conv3x3 -> tanh -> [map 1] -> conv3x3 (stride 2) -> softplus -> [map 2]."""
    import torch

    rng = np.random.default_rng(seed)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = torch.nn.Conv2d(channels, 3, 3, padding=1)
            self.c2 = torch.nn.Conv2d(3, 4, 3, stride=2)
            with torch.no_grad():
                for p in self.parameters():
                    p.copy_(torch.from_numpy(rng.normal(0, 0.5, size=tuple(p.shape))))

    class Multi(Net):
        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            a = torch.tanh(self.c1(x))
            b = torch.nn.functional.softplus(self.c2(a))
            return [a, b]

    class Single(Net):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.softplus(self.c2(torch.tanh(self.c1(x))))

    return (Multi if multi else Single)().eval()


def save_feature_net(path: str, module) -> str:
    """torch.export.save of the module with a dynamic batch, height and width (``.pt2``), or, for a
    path ending in ``.pt``, torch.jit.script + torch.jit.save (DeprecationWarnings silenced)."""
    import warnings

    import torch

    if path.endswith(".pt"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(torch.jit.script(module), path)
        return path
    channels = module.c1.in_channels
    dims = {0: torch.export.Dim("n", min=1), 2: torch.export.Dim("h", min=5), 3: torch.export.Dim("w", min=5)}
    program = torch.export.export(module, (torch.rand(2, channels, 8, 8),), dynamic_shapes=(dims,))
    torch.export.save(program, path)
    return path


def _ensure_nets() -> None:
    if all(os.path.exists(p) for p in (FEATURES_NET, FEATURES_NET_SINGLE, FEATURES_NET_SCRIPT)):
        return
    os.makedirs(_NET_DIR, exist_ok=True)
    for path, multi in ((FEATURES_NET, True), (FEATURES_NET_SINGLE, False), (FEATURES_NET_SCRIPT, True)):
        tmp = f"{path}.tmp"
        save_feature_net(tmp, make_feature_net(multi=multi))
        os.replace(tmp, path)


def perceptual_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    _ensure_nets()
    t = rng.uniform(0, 1, size=(2, 2, 6, 6))
    return {"preds": t + rng.normal(0, 0.2, size=t.shape), "targets": t}


def perceptual_chw(rng: np.random.Generator) -> dict[str, np.ndarray]:
    _ensure_nets()
    t = rng.uniform(0, 1, size=(2, 7, 6))
    return {"preds": t + rng.normal(0, 0.2, size=t.shape), "targets": t}


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "dice": REGION_CASES,
    "iou": REGION_CASES,
    "tversky": REGION_CASES
    + [
        ("fn_heavy", ["alpha=0.3", "beta=0.7"], classes_4d),
        ("logits_a0.8", ["alpha=0.8", "beta=0.2", "from_logits=true"], logits_4d),
    ],
    "ssim": [
        ("gray", [], ssim_gray),
        ("chw", [], ssim_chw),
        ("nchw", [], ssim_nchw),
        ("range255", ["data_range=255"], ssim_255),
    ],
    "perceptual": [
        ("mse_list", [f"features={FEATURES_NET}"], perceptual_batch),
        ("l1_list", [f"features={FEATURES_NET}", "distance=l1"], perceptual_batch),
        ("mse_single_chw", [f"features={FEATURES_NET_SINGLE}"], perceptual_chw),
        ("torchscript_trusted", [f"features={FEATURES_NET_SCRIPT}", "trust_model=true"], perceptual_batch),
    ],
}
