"""int8gate: prove a committed INT8 ONNX model is really quantized and faster than its FP32 source."""

__version__ = "0.1.0"
