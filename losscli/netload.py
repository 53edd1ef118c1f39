"""Loading a user's network without running code from the file.

A ``.pt2`` (``torch.export.save``) is a zip archive: a JSON graph of operators, raw weight
bytes and a few small pickles.  ``torch.export.load`` as it stands runs code from such a file
in several places:

* weights or constants marked ``use_pickle``, and custom or opaque objects, are unpickled with
  ``weights_only=False`` (any pickle can run any code);
* the sample inputs are unpickled with ``weights_only=False`` when the weights-only unpickler
  refuses them;
* symbolic shape expressions are parsed by ``sympy.sympify``, which calls ``eval``;
* ``guards_code`` strings become the Python source of the module's input checks;
* a node's target may name any attribute of ``torch`` (``torch.hub.load``, ...), not only an
  operator; an AOTInductor package carries a shared library.

:func:`load_model` reads the archive once into memory, vets all of that from the bytes (the
JSON and the zip listing, no unpickling), and only then hands the same bytes to
``torch.export.load``: an archive that passes has no pickle but the sample inputs (checked with
``torch.load(weights_only=True)`` first, so torch's fallback is never reached), only torch's
own operators, and expressions and guards made of numbers, shape symbols and arithmetic.
Anything else is refused with one line unless ``trust=True`` (``--trust-model``), which also
admits TorchScript (``torch.jit.load``, deprecated in torch 2.x and able to run code on load).
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from losscli.errors import InputError

# Operators a vetted graph may call: torch's own operator sets, and the Python operators and
# symbolic-shape helpers the exporter writes for shape arithmetic.
_OPERATOR = re.compile(r"^torch\.ops\.(aten|prims|prim)\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_PY_OPERATORS = {
    f"_operator.{n}"
    for n in "getitem add sub mul floordiv truediv mod neg pow eq ne lt le gt ge and_ or_ not_ abs".split()
}
_SYM_FUNCTIONS = {f"torch.{n}" for n in "sym_max sym_min sym_not sym_float sym_int sym_sqrt sym_ite sym_sum".split()}
_MATH = {f"math.{n}" for n in "ceil floor sqrt trunc".split()}

# Names a symbolic expression or a guard may use (besides shape symbols such as s0, s77).
_EXPR_FUNCTIONS = {
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod", "CleanDiv", "CeilToInt", "FloorToInt",
    "CeilDiv", "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv", "TruncToFloat",
    "IsNonOverlappingAndDenseIndicator", "Max", "Min", "Abs", "Eq", "Ne", "Le", "Lt", "Ge", "Gt", "And", "Or",
    "Not", "True", "False", "oo", "zoo", "nan", "inf", "L", "math", "sym_max", "sym_min", "sym_float", "sym_int",
    "ToFloat", "Identity", "OpaqueUnaryFn_sqrt", "floor", "ceiling", "sqrt", "Symbol", "Integer", "Float",
    "Rational", "Add", "Mul", "Pow", "StrictLessThan", "StrictGreaterThan", "LessThan", "GreaterThan",
    "Equality", "Unequality", "BooleanTrue", "BooleanFalse", "Half", "One", "Zero", "NegativeOne",
}  # fmt: skip
_KEYWORDS = {"positive", "integer", "real", "nonnegative", "finite", "evaluate"}
_EXPR_ATTRIBUTES = {"size", "stride", "storage_offset", "dim", "isnan", "inf", "floor", "ceil", "sqrt", "numel"}
_SYMBOL = re.compile(r"^[a-z]\d+$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Entries of a torch.export archive (after its top folder); anything else is refused.
_ENTRIES = re.compile(
    r"^(archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id|version"
    r"|models/[^/]+\.json|data/weights/[^/]+|data/constants/[^/]+|data/sample_inputs/[^/]+\.pt|extra/.+)$"
)

TRUST_HINT = "pass --trust-model only if you trust whoever made this file"


@dataclass
class LoadedModel:
    """A network ready to run under autograd.

    ``module``: a ``torch.nn.Module`` (the unlifted graph module of a ``.pt2``, or a TorchScript
    module).  ``inputs``: the program's user inputs as ``(name, shape, dtype)`` in call order
    (shape entries are ints or symbol names such as ``'s0'`` for a dynamic batch).
    ``kind``: ``pt2`` or ``torchscript``.  ``trusted``: loaded with ``--trust-model``."""

    path: str
    module: Any
    inputs: list[tuple[str, tuple[int | str, ...], str]] = field(default_factory=list)
    outputs: int = 1
    kind: str = "pt2"
    trusted: bool = False

    def describe_inputs(self) -> str:
        """``x: batch x 4 (float32), item: ...`` for error messages."""
        parts = []
        for name, shape, dtype in self.inputs:
            dims = " x ".join(str(d) for d in shape) or "scalar"
            parts.append(f"{name}: {dims} ({dtype})")
        return ", ".join(parts) or "no inputs"


def load_model(path: str, *, trust: bool = False) -> LoadedModel:
    """Load ``path`` (a ``.pt2``; TorchScript only with ``trust``) without running code from it."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("no such model file", source=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the model file: {exc.strerror or exc}", source=path) from None
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise InputError(
            "not a torch.export program (.pt2, written by torch.export.save): the file is not a zip archive",
            source=path,
        )
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = archive.namelist()
        is_pt2 = any(_strip(n).startswith("models/") and n.endswith(".json") for n in names)
        is_script = any(_strip(n).startswith("code/") for n in names)
        is_pickle = any(_strip(n) == "data.pkl" for n in names)
        if not is_pt2:
            if is_script:
                if not trust:
                    raise InputError(
                        "this is a TorchScript file (torch.jit.save): TorchScript is deprecated and loading it can "
                        f"run code from the file, so it is refused; export the model with torch.export.save, or {TRUST_HINT}",
                        source=path,
                    )
                return _load_torchscript(path, raw)
            if is_pickle:
                raise InputError(
                    "this is a torch.save pickle (a state_dict or a whole pickled module?), not a model program; "
                    "pickles can run code and are refused: export the model with torch.export.save",
                    source=path,
                )
            raise InputError(
                "not a torch.export program (.pt2, written by torch.export.save): no models/*.json in the archive",
                source=path,
            )
        problems = [] if trust else vet_archive(archive)
    if problems:
        raise InputError(f"refused to load: {problems[0]}; {TRUST_HINT}", source=path)
    return _load_pt2(path, raw, trusted=trust)


def _strip(name: str) -> str:
    """An archive entry without its top folder (torch writes ``<archive name>/models/...``)."""
    return name.split("/", 1)[1] if "/" in name else name


def vet_archive(archive: zipfile.ZipFile) -> list[str]:
    """What in a ``.pt2`` would make ``torch.export.load`` run code or call non-torch functions
    (empty when nothing does), read from the JSON and the listing only."""
    problems: list[str] = []
    names = archive.namelist()
    for name in names:
        if name.endswith("/"):
            continue
        inner = _strip(name)
        if not _ENTRIES.match(inner):
            problems.append(f"the archive holds {inner!r}, which a torch.export program does not (AOTInductor code?)")
        elif inner == "version" or re.match(r"^data/(weights|constants)/[^/]+\.pt$", inner):
            problems.append(f"{inner!r} is the old pickled format, which torch unpickles in full")
    models = [n for n in names if _strip(n).startswith("models/") and n.endswith(".json")]
    if len(models) != 1 or not models[0].endswith("models/model.json"):
        problems.append("expected one program, models/model.json")
        return problems
    for config in [n for n in names if n.endswith("_config.json")]:
        try:
            entries = json.loads(archive.read(config)).get("config", {})
        except (ValueError, AttributeError):
            problems.append(f"{_strip(config)} is not valid JSON")
            continue
        for fqn, meta in entries.items():
            path_name = str(meta.get("path_name", ""))
            if meta.get("use_pickle"):
                problems.append(
                    f"{fqn!r} is stored as a pickle (use_pickle), which torch unpickles with weights_only=False"
                )
            elif path_name.startswith(("custom_obj", "opaque")) or meta.get("tensor_meta") is None:
                problems.append(f"{fqn!r} is a pickled object ({path_name}), which torch unpickles")
    try:
        program = json.loads(archive.read(models[0]))
    except ValueError:
        return [*problems, "models/model.json is not valid JSON"]
    problems += _vet_program(program)
    samples = [n for n in names if "/sample_inputs/" in n or _strip(n).startswith("data/sample_inputs/")]
    for sample in samples:
        if not _loads_weights_only(archive.read(sample)):
            problems.append(
                f"{_strip(sample)} does not load with the weights-only unpickler (torch would unpickle it in full)"
            )
    return problems


def _loads_weights_only(data: bytes) -> bool:
    import torch

    try:
        torch.load(io.BytesIO(data), weights_only=True)
    except Exception:
        return False
    return True


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every graph node in a serialized program, nested graphs included."""
    if isinstance(value, dict):
        if "target" in value and "inputs" in value and "outputs" in value:
            yield value
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)


def _strings_under(value: Any, key: str) -> Iterator[str]:
    """Every string stored under ``key`` anywhere in ``value``."""
    if isinstance(value, dict):
        for k, item in value.items():
            if k == key and isinstance(item, str):
                yield item
            else:
                yield from _strings_under(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_under(item, key)


def _vet_program(program: dict[str, Any]) -> list[str]:
    problems = []
    graph_module = program.get("graph_module", {})
    for node in _nodes(graph_module):
        target = str(node.get("target", ""))
        if not (_OPERATOR.match(target) or target in _PY_OPERATORS | _SYM_FUNCTIONS | _MATH):
            problems.append(f"the graph calls {target!r}, which is not one of torch's own operators (aten/prims)")
        name = node.get("name")
        if isinstance(name, str) and name and not _IDENTIFIER.match(name):
            problems.append(f"the graph has a node named {name!r}")
    for expr in _strings_under(program, "expr_str"):
        if not _safe_expression(expr):
            problems.append(f"the shape expression {expr[:60]!r} is not arithmetic on shape symbols")
    for key in program.get("range_constraints", {}) or {}:
        if not _safe_expression(str(key)):
            problems.append(f"the range constraint {str(key)[:60]!r} is not arithmetic on shape symbols")
    for guard in program.get("guards_code", []) or []:
        if not _safe_expression(str(guard), guard=True):
            problems.append(f"the input guard {str(guard)[:60]!r} is not a comparison of input shapes")
    if graph_module.get("graph", {}).get("custom_obj_values"):
        problems.append("the graph holds custom (torchbind) objects, which torch unpickles")
    return problems


def _safe_expression(text: str, *, guard: bool = False) -> bool:
    """True when ``text`` parses as numbers, shape symbols, a fixed set of functions and arithmetic
    or comparisons (what ``sympify`` or a guard may then evaluate harmlessly)."""
    try:
        tree = ast.parse(text.replace("\n", " "), mode="eval")
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if not (_SYMBOL.match(node.id) or node.id in _EXPR_FUNCTIONS):
                return False
        elif isinstance(node, ast.Attribute):
            if node.attr not in _EXPR_ATTRIBUTES:
                return False
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                if not (guard or _SYMBOL.match(node.value)):
                    return False
            elif not isinstance(node.value, (int, float, bool)):
                return False
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, (ast.Name, ast.Attribute)):
                return False
            if any(k.arg not in _KEYWORDS or not isinstance(k.value, ast.Constant) for k in node.keywords):
                return False
        elif isinstance(node, ast.keyword):
            continue
        elif not isinstance(
            node,
            (
                ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Subscript, ast.Load,
                ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.Tuple, ast.Slice,
            ),
        ):  # fmt: skip
            return False
        if isinstance(node, ast.Subscript) and guard is False:
            return False
    return True


def _load_pt2(path: str, raw: bytes, *, trusted: bool) -> LoadedModel:
    import logging

    import torch

    logging.getLogger("torch.export").setLevel(logging.ERROR)
    try:
        program = torch.export.load(io.BytesIO(raw))
    except Exception as exc:  # a damaged or newer archive
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot load the torch.export program: {first}", source=path) from None
    inputs: list[tuple[str, tuple[int | str, ...], str]] = []
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    for spec in program.graph_signature.input_specs:
        if spec.kind != torch.export.graph_signature.InputKind.USER_INPUT:
            continue
        name = getattr(spec.arg, "name", "input")
        node = placeholders.get(name)
        meta = node.meta.get("val") if node is not None else None
        shape = tuple(int(d) if isinstance(d, int) or str(d).isdigit() else str(d) for d in getattr(meta, "shape", ()))
        dtype = str(getattr(meta, "dtype", "float32")).replace("torch.", "")
        inputs.append((name, shape, dtype))
    outputs = len(program.graph_signature.user_outputs)
    module = program.module(check_guards=False)
    return LoadedModel(path, module, inputs, outputs, "pt2", trusted)


def _load_torchscript(path: str, raw: bytes) -> LoadedModel:
    import torch

    try:
        module = torch.jit.load(io.BytesIO(raw), map_location="cpu")
    except Exception as exc:
        raise InputError(f"cannot load the TorchScript module: {str(exc).splitlines()[0]}", source=path) from None
    try:
        args = list(module.forward.schema.arguments)[1:]
        inputs: list[tuple[str, tuple[int | str, ...], str]] = [(a.name, (), "float32") for a in args]
    except Exception:
        inputs = []
    return LoadedModel(path, module, inputs, 1, "torchscript", True)
