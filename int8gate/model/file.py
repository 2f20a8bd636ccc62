"""Read an untrusted model file safely: every way it can be bad becomes one ``ModelFileError`` line.

Edge module. Models arrive in pull requests, so before anything else looks at one:
- it must be a regular file, not empty, and within the size cap (model plus its external data);
- a Git LFS pointer (the text Git LFS commits in place of a large file) is named as such, with the fix;
- it must parse as an ONNX protobuf with a graph, an IR version and opsets (a truncated or foreign
  file fails here), and its nodes may only read values something defines (truncation at a field
  boundary fails here);
- external-data locations must be relative paths that resolve, symlinks followed, to regular files
  inside the model's own folder, and each tensor's offset/length must fit in its file;
- every tensor's dims must be sane (0 ≤ dim ≤ 2^31, at most 2^40 bytes) and inline data must match
  its dims; value-info dims must be at most 2^31 (a negative one, Paddle2ONNX's way of writing
  "dynamic", is read as dynamic: ``graph.known_dim``);
- ops may only come from domains ONNX Runtime knows or from the model's own functions, and the model's
  functions must not call themselves, nor expand to more than ``MAX_INLINED_NODES`` nodes once
  inlined (counted before anything inlines them: 40 levels of functions that each call the one below
  twice is a 3 KB file and 2^40 nodes, which took the census to 5 GB);
- every value's element type must be one ONNX defines.
External data is never read: the model is loaded with its tensors' locations only
(``load_external_data=False`` semantics), so inspecting a few-hundred-MB model costs little memory.
``sha256`` is the digest of the ``.onnx`` file; ``size_bytes`` adds the external data files.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # no types-protobuf in dev deps
from onnx import GraphProto, NodeProto, TensorProto

from int8gate.errors import ModelFileError
from int8gate.model.graph import element_bits, model_tensors, subgraphs, walk_graphs

MAX_INLINED_NODES = 250_000
"""Nodes the graph may have once its model-local functions are inlined (shape inference and ONNX
Runtime both inline them); real models with functions have tens of thousands at most."""
DEFAULT_MAX_BYTES = 2 * 1024**3
"""Default cap on a model's size, external data included (2 GiB, protobuf's own limit for one file)."""
MAX_DIM = 2**31
MAX_TENSOR_BYTES = 2**40
KNOWN_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.preview",
        "ai.onnx.preview.training",
        "ai.onnx.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.ms.internal.nhwc",
    }
)
"""Op domains ONNX Runtime's CPU build implements; anything else needs a custom-op library."""
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
"""How a Git LFS pointer file starts (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md)."""
LFS_PROBLEM = (
    "is a Git LFS pointer, not the model: the checkout did not fetch the Git LFS files "
    "(use actions/checkout with 'lfs: true', or run 'git lfs pull')"
)


@dataclass(frozen=True)
class ModelFileInfo:
    """What the gate records about a model file (the report shows sizes and the digest)."""

    path: str
    size_bytes: int
    file_bytes: int
    external_data_bytes: int
    external_files: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class LoadedModel:
    """A checked model: its file facts and the parsed proto (external tensors hold locations, not data)."""

    info: ModelFileInfo
    model: onnx.ModelProto


def read_model(path: Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> LoadedModel:
    """Read and check ``path``; raise ``ModelFileError(path, problem)`` on anything unsafe or broken."""
    where = str(path)
    file_bytes = _regular_file_size(path)
    if max_bytes is not None and file_bytes > max_bytes:
        raise ModelFileError(where, f"is {_mib(file_bytes)}, over the {_mib(max_bytes)} limit")
    if file_bytes == 0:
        raise ModelFileError(where, "is empty")
    with path.open("rb") as handle:
        data = handle.read(file_bytes + 1)
    if len(data) != file_bytes:
        raise ModelFileError(where, "changed size while being read")
    if data.startswith(LFS_POINTER):
        raise ModelFileError(where, LFS_PROBLEM)
    digest = hashlib.sha256(data).hexdigest()
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except DecodeError as exc:
        raise ModelFileError(where, "is not an ONNX model, or is truncated (protobuf cannot parse it)") from exc
    del data
    _check_structure(where, model)
    external = _check_tensors(where, model, path.parent)
    external_bytes = sum(size for _, size in external)
    total = file_bytes + external_bytes
    if max_bytes is not None and total > max_bytes:
        raise ModelFileError(where, f"with its external data is {_mib(total)}, over the {_mib(max_bytes)} limit")
    info = ModelFileInfo(
        path=where,
        size_bytes=total,
        file_bytes=file_bytes,
        external_data_bytes=external_bytes,
        external_files=tuple(name for name, _ in external),
        sha256=digest,
    )
    return LoadedModel(info=info, model=model)


def _regular_file_size(path: Path) -> int:
    where = str(path)
    try:
        status = path.stat()
    except FileNotFoundError as exc:
        raise ModelFileError(where, "no such file") from exc
    except OSError as exc:
        raise ModelFileError(where, f"cannot be read: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(status.st_mode):
        raise ModelFileError(where, "is a folder, not a model file")
    if not stat.S_ISREG(status.st_mode):
        raise ModelFileError(where, "is not a regular file")
    return status.st_size


def _check_structure(where: str, model: onnx.ModelProto) -> None:
    # ir_version 0 is not checked: ONNX Runtime loads and runs such a model, so the gate does too.
    if not model.HasField("graph") or not model.opset_import:
        raise ModelFileError(where, "is not an ONNX model, or is truncated (no graph or opset)")
    if model.ir_version < 0:
        raise ModelFileError(where, f"declares a negative IR version {model.ir_version}")
    if not model.graph.output:
        raise ModelFileError(where, "is truncated or malformed: its graph has no outputs")
    functions = {(function.domain, function.name): function for function in model.functions}
    _check_domains(where, model, functions)
    _check_recursion(where, functions)
    _check_inlined_size(where, model, functions)
    _check_defined(where, model.graph, frozenset())
    for value in _value_infos(model):
        tensor_type = value.type.tensor_type
        if value.type.HasField("tensor_type") and tensor_type.elem_type not in _ELEMENT_TYPES:
            raise ModelFileError(
                where, f"value {value.name!r} has element type {tensor_type.elem_type}, which ONNX does not define"
            )
        for dim in tensor_type.shape.dim:  # a negative size is how some exporters write "dynamic"
            if dim.HasField("dim_value") and dim.dim_value > MAX_DIM:
                raise ModelFileError(where, f"value {value.name!r} declares an absurd dimension {dim.dim_value}")


_ELEMENT_TYPES = frozenset(TensorProto.DataType.values())


def _check_inlined_size(where: str, model: onnx.ModelProto, functions: Mapping[tuple[str, str], Any]) -> None:
    """Refuse a graph whose local functions would inline to more than ``MAX_INLINED_NODES`` nodes.

    A function's size is its nodes with each call of a local function counted as that function's
    size (memoised: the functions were checked not to recurse), so the count costs one pass per function.
    """
    sizes: dict[tuple[str, str], int] = {}

    def nodes_of(nodes: Iterable[NodeProto]) -> int:
        total = 0
        for node in nodes:
            key = (node.domain, node.op_type)
            total += size_of(key) if key in functions else 1
            for graph in subgraphs(node):
                total += nodes_of(graph.node)
            if total > MAX_INLINED_NODES:  # stop counting once over: the sizes can have hundreds of digits
                return total
        return total

    def size_of(key: tuple[str, str]) -> int:
        if key not in sizes:
            sizes[key] = nodes_of(functions[key].node)
        return sizes[key]

    total = nodes_of(model.graph.node)
    if total > MAX_INLINED_NODES:
        raise ModelFileError(
            where,
            f"its model-local functions expand to more than {MAX_INLINED_NODES:,} nodes when inlined "
            "(nested functions that call each other many times); int8gate does not inline that many",
        )


def _value_infos(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    found: list[onnx.ValueInfoProto] = []
    for graph in walk_graphs(model.graph):
        found.extend((*graph.input, *graph.output, *graph.value_info))
    return found


def _check_domains(where: str, model: onnx.ModelProto, functions: Mapping[tuple[str, str], object]) -> None:
    bodies = [model.graph, *(graph for f in model.functions for n in f.node for graph in subgraphs(n))]
    nodes = [node for body in bodies for graph in walk_graphs(body) for node in graph.node]
    nodes += [node for function in model.functions for node in function.node]
    for node in nodes:
        if node.domain not in KNOWN_DOMAINS and (node.domain, node.op_type) not in functions:
            raise ModelFileError(
                where,
                f"uses op {node.op_type!r} from unknown custom domain {node.domain!r} "
                "(ONNX Runtime cannot run it without that domain's custom-op library)",
            )


def _check_recursion(where: str, functions: dict[tuple[str, str], onnx.FunctionProto]) -> None:
    calls = {
        key: {(node.domain, node.op_type) for node in function.node} & functions.keys()
        for key, function in functions.items()
    }
    state: dict[tuple[str, str], str] = {}

    def visit(key: tuple[str, str], trail: tuple[str, ...]) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "open":
            raise ModelFileError(where, f"has recursive model-local functions: {' -> '.join((*trail, key[1]))}")
        state[key] = "open"
        for callee in sorted(calls[key]):
            visit(callee, (*trail, key[1]))
        state[key] = "done"

    for key in sorted(functions):
        visit(key, ())


def _check_defined(where: str, graph: GraphProto, outer: frozenset[str]) -> None:
    """Every node input is defined somewhere in its graph or an enclosing one; every graph output is produced.

    Order is not checked (ONNX Runtime sorts graphs itself); a value nothing defines means a truncated or
    hand-broken file.
    """
    known = set(outer) | {value.name for value in graph.input} | {t.name for t in graph.initializer}
    known |= {sparse.values.name for sparse in graph.sparse_initializer}
    known |= {name for node in graph.node for name in node.output if name}
    for node in graph.node:
        for sub in subgraphs(node):
            _check_defined(where, sub, frozenset(known))
        for name in node.input:
            if name and name not in known:
                label = node.name or node.op_type
                raise ModelFileError(
                    where,
                    f"is truncated or malformed: node {label!r} ({node.op_type}) reads {name!r}, which nothing defines",
                )
    for value in graph.output:
        if value.name not in known:
            raise ModelFileError(where, f"is truncated or malformed: graph output {value.name!r} is never produced")


def _check_tensors(where: str, model: onnx.ModelProto, folder: Path) -> list[tuple[str, int]]:
    """Check every tensor; return the external data files (relative name, size) the model uses."""
    base = folder.resolve()
    files: dict[str, int] = {}
    for label, tensor in model_tensors(model):
        expected = _expected_bytes(where, label, tensor)
        if tensor.data_location == TensorProto.EXTERNAL:
            name, size = _check_external(where, label, tensor, base, expected)
            files[name] = size
        else:
            _check_inline(where, label, tensor, expected)
    return sorted(files.items())


def _expected_bytes(where: str, label: str, tensor: TensorProto) -> int | None:
    for dim in tensor.dims:
        if not 0 <= dim <= MAX_DIM:
            raise ModelFileError(where, f"{label} declares an absurd dimension {dim}")
    bits = element_bits(tensor.data_type)
    numel = 1
    for dim in tensor.dims:
        numel *= dim
    if bits is None:
        return None
    size = (numel * bits + 7) // 8
    if size > MAX_TENSOR_BYTES:
        raise ModelFileError(where, f"{label} declares an absurd size ({size} bytes)")
    return size


def _check_inline(where: str, label: str, tensor: TensorProto, expected: int | None) -> None:
    if expected is None:
        return
    if tensor.HasField("raw_data"):
        if len(tensor.raw_data) != expected:
            problem = f"{label} declares {expected} bytes but holds {len(tensor.raw_data)}: corrupt or truncated"
            raise ModelFileError(where, problem)
        return
    field = _TYPED_FIELDS.get(tensor.data_type)
    if field is None:
        return
    numel = 1
    for dim in tensor.dims:
        numel *= dim
    bits = element_bits(tensor.data_type) or 8
    wanted = (numel + 1) // 2 if bits == 4 else numel * (2 if tensor.data_type in _COMPLEX else 1)
    held = len(getattr(tensor, field))
    if held != wanted:
        raise ModelFileError(where, f"{label} declares {numel} elements but holds {held} values: corrupt or truncated")


_COMPLEX = (TensorProto.COMPLEX64, TensorProto.COMPLEX128)
_TYPED_FIELDS: dict[int, str] = {
    TensorProto.FLOAT: "float_data",
    TensorProto.COMPLEX64: "float_data",
    TensorProto.DOUBLE: "double_data",
    TensorProto.COMPLEX128: "double_data",
    TensorProto.INT64: "int64_data",
    TensorProto.UINT32: "uint64_data",
    TensorProto.UINT64: "uint64_data",
    **dict.fromkeys(
        (
            TensorProto.INT32,
            TensorProto.INT16,
            TensorProto.INT8,
            TensorProto.UINT16,
            TensorProto.UINT8,
            TensorProto.BOOL,
            TensorProto.FLOAT16,
            TensorProto.BFLOAT16,
            TensorProto.INT4,
            TensorProto.UINT4,
        ),
        "int32_data",
    ),
}
"""Where a tensor keeps its values when they are not in ``raw_data``."""


def _check_external(where: str, label: str, tensor: TensorProto, base: Path, expected: int | None) -> tuple[str, int]:
    entries = {entry.key: entry.value for entry in tensor.external_data}
    location = entries.get("location", "")
    if not location or "\x00" in location:
        raise ModelFileError(where, f"{label} has external data without a usable location")
    relative = Path(location)
    if relative.is_absolute() or location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        raise ModelFileError(where, f"{label} points its external data at an absolute path {location!r}")
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise ModelFileError(where, f"{label} points its external data outside the model's folder: {location!r}")
    try:
        status = target.stat()
    except OSError as exc:
        raise ModelFileError(where, f"{label}: external data file {location!r} is missing") from exc
    if not stat.S_ISREG(status.st_mode):
        raise ModelFileError(where, f"{label}: external data {location!r} is not a regular file")
    offset = _non_negative(where, label, entries, "offset", 0)
    length = _non_negative(where, label, entries, "length", status.st_size - offset)
    if expected is not None and length != expected:
        raise ModelFileError(where, f"{label} declares {expected} bytes but its external data holds {length}")
    if offset + length > status.st_size:
        raise ModelFileError(
            where, f"{label} reads bytes {offset}..{offset + length} of {location!r}, which has {status.st_size}"
        )
    return target.relative_to(base).as_posix(), status.st_size


def _non_negative(where: str, label: str, entries: dict[str, str], key: str, default: int) -> int:
    text = entries.get(key)
    if text is None:
        return default
    if not text.isdigit():
        raise ModelFileError(where, f"{label} has an invalid external-data {key} {text!r}")
    return int(text)


def _mib(size: int) -> str:
    return f"{size / 1024**2:.1f} MiB"


def load_model_proto(path: Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> onnx.ModelProto:
    """The checked model proto of ``path`` (``read_model`` without the file facts)."""
    return read_model(path, max_bytes=max_bytes).model
