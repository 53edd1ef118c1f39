"""The one place where a loss is run, reduced and differentiated.

``evaluate`` takes numpy inputs, checks them against the loss, and runs the loss's
single array-API function on

* numpy (``backend="numpy"``): the value only; torch is never imported;
* torch (``backend="torch"``): inputs become leaf tensors with ``requires_grad=True``,
  the reduced loss gets ``.backward()`` and every differentiable input's ``.grad`` is
  read back.

Reductions: ``mean`` (Σℓ / N, or Σℓ / Σw for losses with a weighted mean such as
class-weighted cross-entropy), ``sum`` (Σℓ) and ``none`` (ℓ itself).  With ``none``,
gradients are those of Σℓ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from losscli.errors import UsageError
from losscli.spec import LossSpec

REDUCTIONS = ("mean", "sum", "none")
DTYPES = ("float64", "float32")
BACKENDS = ("numpy", "torch")


@dataclass
class Evaluation:
    """The result of one evaluation.

    ``value`` is a float (an array for ``reduction='none'``); ``elements`` the
    unreduced loss as numpy; ``gradients`` maps each differentiable input to a numpy
    array of its shape (torch backend only); ``scale`` is the factor that turns the
    reduced gradient into a per-sample one (N for a plain mean, Σw for a weighted mean,
    1 for sum/none).
    """

    spec: LossSpec
    params: dict[str, Any]
    reduction: str
    dtype: str
    value: Any
    elements: np.ndarray
    n: int
    scale: float
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    backend: str = "numpy"


def _namespace(backend: str) -> Any:
    if backend == "numpy":
        import array_api_compat.numpy as xp
    else:
        import array_api_compat.torch as xp
    return xp


def _reduce(xp: Any, elements: Any, weights: Any, reduction: str) -> tuple[Any, Any]:
    """(reduced value, per-sample scale) for one reduction."""
    if reduction == "none":
        return elements, 1.0
    total = xp.sum(elements)
    if reduction == "sum":
        return total, 1.0
    if weights is None:
        count = 1
        for size in elements.shape:
            count *= size
        return total / count, float(count)
    denom = xp.sum(weights)
    return total / denom, denom


def _to_numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def evaluate(
    spec: LossSpec,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    backend: str = "numpy",
    sources: Mapping[str, str] | None = None,
) -> Evaluation:
    """Check ``inputs``, run ``spec.fn`` on ``backend`` and reduce; gradients on torch."""
    if reduction not in REDUCTIONS:
        raise UsageError(f"--reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    if dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    missing = [name for name in spec.input_names if name not in inputs]
    if missing:
        raise UsageError(f"{spec.name} needs input(s) {', '.join(missing)}")
    arrays = {name: np.asarray(inputs[name], dtype=np.float64) for name in spec.input_names}
    if spec.validate is not None:
        spec.validate(arrays, params, dict(sources or {}))
    xp = _namespace(backend)
    leaves: dict[str, Any] = {}
    if backend == "numpy":
        data = {name: arr.astype(dtype) for name, arr in arrays.items()}
    else:
        import torch

        torch_dtype = getattr(torch, dtype)
        data = {}
        for inp in spec.inputs:
            tensor = torch.from_numpy(arrays[inp.name]).to(torch_dtype)
            if inp.differentiable:
                tensor.requires_grad_(True)
                leaves[inp.name] = tensor
            data[inp.name] = tensor
    elements, weights = spec.fn(xp, data, params)
    value, scale = _reduce(xp, elements, weights, reduction)
    if spec.finalize is not None:
        value = spec.finalize(xp, value)
    gradients: dict[str, np.ndarray] = {}
    if leaves:
        import torch

        target = value if reduction != "none" else xp.sum(value)
        target.backward()
        for name, leaf in leaves.items():
            grad = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
            gradients[name] = _to_numpy(grad)
    value_np = _to_numpy(value)
    elements_np = _to_numpy(elements)
    return Evaluation(
        spec=spec,
        params=dict(params),
        reduction=reduction,
        dtype=dtype,
        value=value_np if reduction == "none" else float(value_np),
        elements=elements_np,
        n=int(elements_np.shape[0]) if elements_np.ndim else 1,
        scale=float(_to_numpy(scale)),
        gradients=gradients,
        backend=backend,
    )
