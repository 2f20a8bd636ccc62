"""One ONNX model file as data.

Safe reading, graph walks, shape inference, op tables and MACs, the quantization census, pitfalls,
the optimized graph's counts and the inspection result (no ONNX Runtime).
"""
