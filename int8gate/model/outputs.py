"""What each graph output holds, read from the op that produces it: the metric fidelity judges it by.

Pure: reads an ``onnx.ModelProto``. Walking back from an output through ops that only move or
retype values (Identity, Reshape, Transpose, Squeeze, Cast, …), the first op that computes says:
    Softmax, LogSoftmax (or Exp/ReduceSum), ZipMap, a classifier    class-scores
    Sigmoid, HardSigmoid                                          probabilities
    an integer or boolean output (ArgMax, TopK indices, labels)   integers
    anything else                                                 values
and, whatever op makes it, an output shaped like a float input whose name it extends (``h`` → ``hn``,
``state`` → ``stateN``) is a recurrent ``state``: the state a recurrent model hands to its next call.
The names are ``measure.fidelity.OutputKind`` values (this layer does not import ``measure``).
"""

from __future__ import annotations

import onnx
from onnx import TensorProto

from int8gate.model.graph import Shape, value_shape, walk_nodes

_PASS = frozenset({"Identity", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Cast", "Flatten", "Slice",
                   "Gather", "Concat", "Split", "DequantizeLinear", "QuantizeLinear", "Expand", "Tile"})  # fmt: skip
_SCORES = frozenset({"Softmax", "LogSoftmax", "ZipMap", "LinearClassifier", "SVMClassifier",
                     "TreeEnsembleClassifier", "QLinearSoftmax"})  # fmt: skip
_PROBABILITIES = frozenset({"Sigmoid", "HardSigmoid", "QLinearSigmoid"})
_INTEGER_TYPES = frozenset({TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16,
                            TensorProto.INT32, TensorProto.UINT32, TensorProto.INT64, TensorProto.UINT64,
                            TensorProto.BOOL})  # fmt: skip
_FLOAT_TYPES = frozenset({TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE})
MAX_HOPS = 32


def output_kinds(model: onnx.ModelProto) -> dict[str, str]:
    """Each graph output's kind: ``class-scores``, ``probabilities``, ``integers`` or ``values``."""
    producer = {name: node for node in walk_nodes(model.graph) for name in node.output if name}
    initializers = {tensor.name for tensor in model.graph.initializer}
    states = {value.name: value_shape(value) for value in model.graph.input
              if value.name not in initializers and value.type.tensor_type.elem_type in _FLOAT_TYPES}  # fmt: skip
    kinds: dict[str, str] = {}
    for output in model.graph.output:
        if _is_state(output, states):
            kinds[output.name] = "state"
            continue
        value_type = output.type
        if value_type.HasField("tensor_type") and value_type.tensor_type.elem_type in _INTEGER_TYPES:
            kinds[output.name] = "integers"
            continue
        kinds[output.name] = _kind_from(output.name, producer)
    return kinds


def _is_state(output: onnx.ValueInfoProto, inputs: dict[str, Shape | None]) -> bool:
    if not output.type.HasField("tensor_type"):
        return False
    shape = value_shape(output)
    return any(output.name != name and output.name.startswith(name) and _compatible(shape, in_shape)
               for name, in_shape in inputs.items())  # fmt: skip


def _compatible(a: Shape | None, b: Shape | None) -> bool:
    """Same rank, and equal wherever both dims are known (exporters leave a state's dims symbolic)."""
    if a is None or b is None or len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _kind_from(name: str, producer: dict[str, onnx.NodeProto]) -> str:
    for _ in range(MAX_HOPS):
        node = producer.get(name)
        if node is None:
            return "values"
        if node.op_type in _SCORES or _decomposed_softmax(node, producer):
            return "class-scores"
        if node.op_type in _PROBABILITIES:
            return "probabilities"
        if node.op_type not in _PASS or not node.input or not node.input[0]:
            return "values"
        name = node.input[0]
    return "values"


def _decomposed_softmax(node: onnx.NodeProto, producer: dict[str, onnx.NodeProto]) -> bool:
    """Exp(x − max) / ReduceSum(Exp(…)): how tf2onnx and jax2tf write a softmax (reshaped, broadcast)."""
    if node.op_type != "Div" or len(node.input) < 2:
        return False
    numerator, denominator = _through_moves(node.input[0], producer), _through_moves(node.input[1], producer)
    return (numerator is not None and numerator.op_type == "Exp"
            and denominator is not None and denominator.op_type == "ReduceSum")


def _through_moves(name: str, producer: dict[str, onnx.NodeProto]) -> onnx.NodeProto | None:
    """The first node producing ``name`` that does more than move or retype values."""
    node = producer.get(name)
    for _ in range(MAX_HOPS):
        if node is None or node.op_type not in _PASS or not node.input:
            return node
        node = producer.get(node.input[0])
    return node
