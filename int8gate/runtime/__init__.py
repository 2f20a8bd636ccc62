"""ONNX Runtime and child processes.

The only package that imports `onnxruntime` or `subprocess` (the launcher, the worker, the
optimized-graph writer, the profiler, the benchmark driver).
"""
