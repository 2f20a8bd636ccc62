"""ONNX Runtime and child processes.

The only package that imports `onnxruntime` or `subprocess` (the launcher, the worker, the
optimized-graph writer, the profiler, the benchmark driver).

ONNX Runtime's telemetry is turned off here, before any module of this package imports
`onnxruntime`: its POSIX builds otherwise write a device id and an event store under `$HOME` and
`$TMPDIR` when they initialise and look up their upload host. `ORT_DISABLE_TELEMETRY` is read once,
at that initialisation (so a process that imported `onnxruntime` earlier keeps its telemetry; the
children `runtime.child` starts always get it in their environment).
"""

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"
