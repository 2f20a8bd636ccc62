"""Measurement results as pure data.

Latency statistics and the speedup interval, output fidelity, the per-op-type profile, and the
benchmark row types.
"""
