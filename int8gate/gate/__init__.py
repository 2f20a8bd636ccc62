"""The gate.

Inspect one model (census plus ONNX Runtime's optimized graph) and run a policy's pairs through
measure, explain and verdict into one report.
"""
