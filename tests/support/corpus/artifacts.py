"""Every model and sample file the hostile corpus needs, built with onnx.helper and numpy (nothing binary
is committed). ``build(name, folder)`` writes one artifact and returns its path; builds are cached by name.

Models: a valid 64x64 MatMul pair (FP32 and QDQ INT8) that measures in microseconds, and variations that
attack one thing each (a Loop that never ends, a 16 GiB allocation at run time, nested local functions,
constant folding that makes a session slow, an unknown element type, a newer opset than ONNX Runtime
knows, external data that points out of the model's folder, ...). Sample files: valid ones, one that
inflates from 1 MB to a gigabyte, and each way a .npy/.npz can lie or break.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper
from onnx import numpy_helper as nh

OPSET = 17
IR = 8
VI = helper.make_tensor_value_info

Builder = Callable[[Path], object]
ARTIFACTS: dict[str, Builder] = {}


def artifact(name: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        ARTIFACTS[name] = fn
        return fn

    return register


def build(name: str, folder: Path) -> Path:
    """The artifact ``name`` in ``folder`` (built once)."""
    path = folder / name
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        ARTIFACTS[name](path)
    return path


def _model(nodes: Sequence[onnx.NodeProto], inputs: Sequence[onnx.ValueInfoProto], outputs: Sequence[onnx.ValueInfoProto],
           inits: Sequence[onnx.TensorProto] = (), *, opset: int = OPSET, ir: int = IR,
           functions: Sequence[onnx.FunctionProto] = (), extra_opsets: Sequence[tuple[str, int]] = ()) -> onnx.ModelProto:  # fmt: skip
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), list(inits))
    opsets = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, v) for d, v in extra_opsets)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=ir, functions=list(functions))


def _save(model: onnx.ModelProto, path: Path) -> None:
    path.write_bytes(model.SerializeToString())


def _weights(shape: tuple[int, ...], seed: int = 0) -> np.ndarray[Any, Any]:
    return (np.random.default_rng(seed).standard_normal(shape) * 0.1).astype(np.float32)


# -- the valid pair ----------------------------------------------------------------------------------


def matmul_fp32(input_name: str = "x") -> onnx.ModelProto:
    w = nh.from_array(_weights((64, 64)), "W")
    return _model([helper.make_node("MatMul", [input_name, "W"], ["y"])],
                  [VI(input_name, T.FLOAT, [1, 64])], [VI("y", T.FLOAT, [1, 64])], [w])  # fmt: skip


def matmul_int8(input_name: str = "x") -> onnx.ModelProto:
    wf = _weights((64, 64))
    scale = float(np.abs(wf).max() / 127)
    wq = np.clip(np.round(wf / scale), -127, 127).astype(np.int8)
    inits = [
        nh.from_array(wq, "Wq"), nh.from_array(np.array(scale, np.float32), "ws"), nh.from_array(np.array(0, np.int8), "wz"),
        nh.from_array(np.array(0.05, np.float32), "xs"), nh.from_array(np.array(128, np.uint8), "xz"),
    ]  # fmt: skip
    nodes = [
        helper.make_node("QuantizeLinear", [input_name, "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["Wq", "ws", "wz"], ["Wd"]),
        helper.make_node("MatMul", ["xd", "Wd"], ["y"]),
    ]
    return _model(nodes, [VI(input_name, T.FLOAT, [1, 64])], [VI("y", T.FLOAT, [1, 64])], inits)


artifact("matmul_fp32.onnx")(lambda path: _save(matmul_fp32(), path))
artifact("matmul_int8.onnx")(lambda path: _save(matmul_int8(), path))
artifact("matmul_int8_renamed.onnx")(lambda path: _save(matmul_int8("x_q"), path))
artifact("matmul_fp32_input_injection.onnx")(lambda path: _save(matmul_fp32("x\n::error title=x::pwned-from-input-name"), path))


# -- memory ------------------------------------------------------------------------------------------

BIG_OUTPUT = 65_536


def _big_output(quantize: bool) -> onnx.ModelProto:
    """x[1,1] expanded to y[1,65536]: 256 KiB of output per sample from a ~200-byte model."""
    inits = [nh.from_array(np.array([1, BIG_OUTPUT], np.int64), "shape")]
    nodes = []
    source = "x"
    if quantize:
        inits += [nh.from_array(np.array(0.05, np.float32), "s"), nh.from_array(np.array(128, np.uint8), "z")]
        nodes += [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                  helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"])]  # fmt: skip
        source = "d"
    nodes.append(helper.make_node("Expand", [source, "shape"], ["y"]))
    return _model(nodes, [VI("x", T.FLOAT, [1, 1])], [VI("y", T.FLOAT, [1, BIG_OUTPUT])], inits)


artifact("bigout_fp32.onnx")(lambda path: _save(_big_output(False), path))
artifact("bigout_int8.onnx")(lambda path: _save(_big_output(True), path))


def nested_functions(depth: int = 40) -> onnx.ModelProto:
    """F0 = Relu; F(k) = F(k-1) twice in a row: 2**depth Relu nodes once inlined, ~3 KB on disk."""
    o17, local = helper.make_opsetid("", OPSET), helper.make_opsetid("local", 1)
    funcs = [helper.make_function("local", "F0", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])], [o17])]
    for k in range(1, depth + 1):
        body = [helper.make_node(f"F{k - 1}", ["a"], ["t"], domain="local"),
                helper.make_node(f"F{k - 1}", ["t"], ["b"], domain="local")]  # fmt: skip
        funcs.append(helper.make_function("local", f"F{k}", ["a"], ["b"], body, [o17, local]))
    return _model([helper.make_node(f"F{depth}", ["x"], ["y"], domain="local")],
                  [VI("x", T.FLOAT, [1, 64])], [VI("y", T.FLOAT, [1, 64])],
                  functions=funcs, extra_opsets=[("local", 1)])  # fmt: skip


artifact("nested_functions.onnx")(lambda path: _save(nested_functions(), path))


@artifact("recursive_functions.onnx")
def _recursive(path: Path) -> None:
    o17, local = helper.make_opsetid("", OPSET), helper.make_opsetid("local", 1)
    f = helper.make_function("local", "F", ["a"], ["b"], [helper.make_node("F", ["a"], ["b"], domain="local")], [o17, local])
    _save(_model([helper.make_node("F", ["x"], ["y"], domain="local")], [VI("x", T.FLOAT, [1, 64])],
                 [VI("y", T.FLOAT, [1, 64])], functions=[f], extra_opsets=[("local", 1)]), path)  # fmt: skip


@artifact("oom_model.onnx")
def _oom(path: Path) -> None:
    """x[1,64] expanded to [2^26, 64] (16 GiB) at run time, reduced back: runs out of memory."""
    inits = [nh.from_array(np.array([1 << 26, 64], np.int64), "shape"), nh.from_array(np.array([0], np.int64), "ax")]
    nodes = [helper.make_node("Expand", ["x", "shape"], ["big"]),
             helper.make_node("ReduceMax", ["big", "ax"], ["r"], keepdims=1),
             helper.make_node("Add", ["x", "r"], ["y"])]  # fmt: skip
    _save(_model(nodes, [VI("x", T.FLOAT, [1, 64])], [VI("y", T.FLOAT, [1, 64])], inits, opset=18), path)


# -- time --------------------------------------------------------------------------------------------


def _slow_session(chain: int, n: int = 2048) -> onnx.ModelProto:
    """``chain`` constant n x n MatMuls ONNX Runtime folds while creating the session (slow, and big)."""
    nodes = [helper.make_node("ConstantOfShape", ["shp"], ["c0"], value=helper.make_tensor("v", T.FLOAT, [1], [0.0]))]
    nodes += [helper.make_node("MatMul", [f"c{k}", f"c{k}"], [f"c{k + 1}"]) for k in range(chain)]
    nodes += [helper.make_node("ReduceSum", [f"c{chain}", "ax"], ["r"], keepdims=1),
              helper.make_node("Add", ["x", "r"], ["y"])]  # fmt: skip
    inits = [nh.from_array(np.array([n, n], np.int64), "shp"), nh.from_array(np.array([0], np.int64), "ax")]
    return _model(nodes, [VI("x", T.FLOAT, [1, n])], [VI("y", T.FLOAT, [1, n])], inits)


artifact("slow_session.onnx")(lambda path: _save(_slow_session(28), path))
artifact("slower_session.onnx")(lambda path: _save(_slow_session(110), path))


@artifact("loop_forever.onnx")
def _loop(path: Path) -> None:
    """x[1,64] -> Loop with trip count 2^63-1 -> y[1,64]: runs until killed."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body",
        [VI("i", T.INT64, []), VI("cond_in", T.BOOL, []), VI("v_in", T.FLOAT, [1, 64])],
        [VI("cond_out", T.BOOL, []), VI("v_out", T.FLOAT, [1, 64])],
        [nh.from_array(np.array(1.0, np.float32), "one")],
    )
    inits = [nh.from_array(np.array(np.iinfo(np.int64).max, np.int64), "M"), nh.from_array(np.array(True), "cond")]
    _save(_model([helper.make_node("Loop", ["M", "cond", "x"], ["y"], body=body)],
                 [VI("x", T.FLOAT, [1, 64])], [VI("y", T.FLOAT, [1, 64])], inits), path)  # fmt: skip


# -- messages ----------------------------------------------------------------------------------------


def relu(opset: int = OPSET, ir: int = IR) -> onnx.ModelProto:
    return _model([helper.make_node("Relu", ["x"], ["y"])], [VI("x", T.FLOAT, [1, 64])], [VI("y", T.FLOAT, [1, 64])],
                  opset=opset, ir=ir)  # fmt: skip


artifact("relu.onnx")(lambda path: _save(relu(), path))
artifact("relu_opset30.onnx")(lambda path: _save(relu(opset=30, ir=10), path))


@artifact("relu_ir0.onnx")
def _relu_ir0(path: Path) -> None:
    model = relu()
    model.ir_version = 0
    _save(model, path)


@artifact("elemtype_unknown.onnx")
def _elemtype(path: Path) -> None:
    model = relu()
    model.graph.input[0].type.tensor_type.elem_type = 99
    _save(model, path)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint((num << 3) | 2) + _varint(len(payload)) + payload


def deep_if(depth: int) -> bytes:
    """Relu inside ``depth`` nested If nodes, encoded by hand (onnx.helper refuses past protobuf's depth)."""

    def graph(nodes: list[bytes], name: str, out: str) -> bytes:
        return (b"".join(_field(1, n) for n in nodes) + _field(2, name.encode())
                + _field(12, VI(out, T.FLOAT, [1, 64]).SerializeToString()))  # fmt: skip

    def if_node(out: str, then_g: bytes, else_g: bytes) -> bytes:
        attrs = [_field(1, name.encode()) + _varint(20 << 3) + _varint(5) + _field(6, g)
                 for name, g in (("then_branch", then_g), ("else_branch", else_g))]  # fmt: skip
        return _field(1, b"c") + _field(2, out.encode()) + _field(4, b"If") + b"".join(_field(5, a) for a in attrs)

    inner = graph([helper.make_node("Relu", ["x"], ["o0"]).SerializeToString()], "b0", "o0")
    node = b""
    for d in range(1, depth + 1):
        other = graph([helper.make_node("Identity", ["x"], [f"e{d}"]).SerializeToString()], f"e{d}", f"e{d}")
        out = "y" if d == depth else f"o{d}"
        node = if_node(out, inner, other)
        inner = graph([node], f"b{d}", out)
    top = helper.make_graph([], "g", [VI("x", T.FLOAT, [1, 64])], [VI("y", T.FLOAT, [1, 64])],
                            [nh.from_array(np.array(True), "c")]).SerializeToString() + _field(1, node)  # fmt: skip
    head = helper.make_model(helper.make_graph([], "g", [], []), opset_imports=[helper.make_opsetid("", OPSET)],
                             ir_version=IR)  # fmt: skip
    head.ClearField("graph")
    return bytes(head.SerializeToString()) + _field(7, top)


artifact("deep_if31.onnx")(lambda path: path.write_bytes(deep_if(31)))


# -- external data (all refused before anything is opened) -------------------------------------------


def _external(location: str) -> onnx.ModelProto:
    model = matmul_fp32()
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = T.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(64 * 64 * 4))):
        w.external_data.add(key=key, value=value)
    return model


artifact("ext_absolute.onnx")(lambda path: _save(_external("/etc/passwd"), path))
artifact("ext_dotdot.onnx")(lambda path: _save(_external("../../outside/w.bin"), path))
artifact("ext_symlink.onnx")(lambda path: _save(_external("w.bin"), path))
artifact("w.bin")(lambda path: path.write_bytes(_weights((64, 64)).tobytes()))


# -- sample files ------------------------------------------------------------------------------------


def npz_bytes(compressed: bool = False, **arrays: np.ndarray[Any, Any]) -> bytes:
    buffer = io.BytesIO()
    if compressed:
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    else:
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npy_bytes(array: np.ndarray[Any, Any]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


FOUR = np.ones((4, 1, 64), np.float32)
BOMB_SAMPLES = 4_300_000  # x: (4.3 M, 1, 64) float32 = 1.1 GB of zeros in a ~1 MB archive

artifact("samples_good.npz")(lambda path: path.write_bytes(npz_bytes(x=_weights((4, 1, 64), 1))))


def zeros_npz(path: Path, rows: int) -> None:
    """An .npz whose x (rows, 1, 64) float32 zeros are written streaming: ~1 MB of file per GB inflated."""
    chunk = bytes(1 << 24)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("x.npy", "w", force_zip64=True) as member,
    ):
        member.write(npy_header((rows, 1, 64)))
        left = rows * 64 * 4
        while left:
            member.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


artifact("samples_bomb.npz")(lambda path: zeros_npz(path, BOMB_SAMPLES))


@artifact("samples_truncated.npz")
def _truncated(path: Path) -> None:
    data = npz_bytes(compressed=True, x=FOUR)
    path.write_bytes(data[: len(data) // 2])


@artifact("samples_badcrc.npz")
def _badcrc(path: Path) -> None:
    data = bytearray(npz_bytes(x=FOUR))
    data[data.index(b"\x93NUMPY") + 200] ^= 0xFF  # inside the stored array: its CRC-32 no longer matches
    path.write_bytes(bytes(data))


artifact("samples_zip_as.npy")(lambda path: path.write_bytes(npz_bytes(x=FOUR)))
artifact("samples_npy_as.npz")(lambda path: path.write_bytes(npy_bytes(FOUR)))
artifact("samples_pickle.npz")(lambda path: path.write_bytes(npz_bytes(x=np.array([{"a": 1}, None], dtype=object))))
artifact("samples_pickle.npy")(lambda path: path.write_bytes(npy_bytes(np.array([{"a": 1}, None], dtype=object))))


@artifact("samples_header_lies.npz")
def _header_lies(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", npy_header((1 << 28, 1, 64)) + bytes(1024))  # claims 64 GiB over 1 KiB


artifact("samples_npy_header_lies.npy")(lambda path: path.write_bytes(npy_header((1 << 28, 1, 64)) + bytes(1024)))
